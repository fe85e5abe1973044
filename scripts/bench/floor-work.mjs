// The work both floors do, and nothing more: HMAC-SHA1 over the raw body, JSON.parse, a topic check, then a
// group-committed, fdatasync'ed JSONL append before answering.
import { createHmac, timingSafeEqual } from "node:crypto"
import { fdatasync, openSync, write } from "node:fs"

const secret = process.env.INTERCOM_CLIENT_SECRET
const fd = openSync(process.env.FILE_SINK_PATH, "a")
let pending = []
let writing = false

const flush = () => {
  if (writing || pending.length === 0) return
  writing = true
  const batch = pending
  pending = []
  const data = Buffer.concat(batch.map((item) => item.line))
  write(fd, data, (error) => {
    if (error) return done(batch, error)
    fdatasync(fd, (error) => done(batch, error))
  })
}
const done = (batch, error) => {
  writing = false
  for (const item of batch) item.callback(error)
  flush()
}

/** Calls back with the status to answer: 401, 400, 503, or 200 once the body is on disk. */
export const receive = (body, signature, callback) => {
  const expected = Buffer.from(`sha1=${createHmac("sha1", secret).update(body).digest("hex")}`)
  const header = signature ?? ""
  if (header.length !== expected.length || !timingSafeEqual(Buffer.from(header), expected)) return callback(401)
  let notification
  try {
    notification = JSON.parse(body.toString("utf8"))
  } catch {
    return callback(400)
  }
  if (typeof notification?.topic !== "string" || typeof notification?.data?.item !== "object") return callback(400)
  pending.push({ line: Buffer.concat([body, Buffer.from("\n")]), callback: (error) => callback(error ? 503 : 200) })
  flush()
}
