// The floor: the least a Node process can do and still be an honest durable receiver. HMAC-SHA1 over the raw body,
// JSON.parse, a topic check, then a group-committed, fdatasync'ed JSONL append before answering.
// Usage: node scripts/bench/floor.mjs  (PORT, INTERCOM_CLIENT_SECRET, FILE_SINK_PATH from the environment)
import { createHmac, timingSafeEqual } from "node:crypto"
import { openSync } from "node:fs"
import { fdatasync, write } from "node:fs"
import { createServer } from "node:http"

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
const append = (line, callback) => {
  pending.push({ line, callback })
  flush()
}

createServer((request, response) => {
  const chunks = []
  request.on("data", (chunk) => chunks.push(chunk))
  request.on("end", () => {
    const body = Buffer.concat(chunks)
    const header = request.headers["x-hub-signature"] ?? ""
    const expected = Buffer.from(`sha1=${createHmac("sha1", secret).update(body).digest("hex")}`)
    if (header.length !== expected.length || !timingSafeEqual(Buffer.from(header), expected)) {
      return response.writeHead(401).end()
    }
    let notification
    try {
      notification = JSON.parse(body.toString("utf8"))
    } catch {
      return response.writeHead(400).end()
    }
    if (typeof notification?.topic !== "string" || typeof notification?.data?.item !== "object") {
      return response.writeHead(400).end()
    }
    append(Buffer.concat([body, Buffer.from("\n")]), (error) => {
      if (error) return response.writeHead(503).end()
      response.writeHead(200, { "content-type": "application/json" }).end("{\"status\":\"accepted\"}")
    })
  })
}).listen(Number(process.env.PORT ?? 8081), "127.0.0.1", () => process.stderr.write("Listening\n"))
