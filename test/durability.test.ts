import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { connect, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sign } from "../src/pipeline/Signature.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { recordedIds, spawnService } from "./support/Service.js"
import { type Captured, startTarget } from "./support/Target.js"
import { SECRET } from "./support/TestServer.js"

const template = loadFixtures().find((fixture) => fixture.topic === "conversations.closed")!.json as object

const notification = (id: string) => Buffer.from(JSON.stringify({ ...template, id }))

/** POSTs one signed notification; the status, or 0 when the connection failed. */
const post = (url: string, id: string) =>
  Effect.promise(() => {
    const body = notification(id)
    return fetch(`${url}/webhooks/intercom`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature": sign(SECRET, body) },
      body
    }).then((response) => response.status, () => 0)
  })

/** Sends `ids` with `concurrency` requests in flight; the ids answered 200. */
const load = (url: string, ids: ReadonlyArray<string>, concurrency = 16) =>
  Effect.forEach(ids, (id) => Effect.map(post(url, id), (status) => status === 200 ? [id] : []), { concurrency })
    .pipe(Effect.map((acked) => acked.flat()))

const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, index) => `${prefix}-${index}`)

/** A loopback port nobody listens on right now. */
const freePort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
)

const fast = { RETRY_BASE_DELAY: "20ms", RETRY_MAX_DELAY: "200ms" }

/**
 * A POST of `body` on a raw socket, sent as far as `Expect: 100-continue`: `continued` resolves once the server has
 * taken the request (it answers 100 Continue as it hands the request on), `send` writes body bytes, and `answer`
 * resolves with everything the server wrote after the 100 Continue once it closes the connection.
 */
const rawPost = (url: string, body: Buffer) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const { hostname, port } = new URL(url)
      const socket = connect(Number(port), hostname)
      let received = ""
      socket.on("data", (chunk: Buffer) => void (received += chunk.toString("latin1")))
      socket.on("error", () => undefined)
      const continued = new Promise<void>((resolve, reject) => {
        const check = () => received.startsWith("HTTP/1.1 100 Continue\r\n\r\n") && resolve()
        socket.on("data", check)
        socket.once("close", () => reject(new Error(`closed before 100 Continue: ${received}`)))
      })
      const answer = new Promise<string>((resolve) =>
        socket.once("close", () => resolve(received.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, "")))
      )
      socket.write(
        `POST /webhooks/intercom HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${body.length}\r\nX-Hub-Signature: ${sign(SECRET, body)}\r\nExpect: 100-continue\r\n\r\n`
      )
      return { socket, continued, answer, send: (bytes: Buffer) => void socket.write(bytes) }
    }),
    ({ socket }) => Effect.sync(() => socket.destroy())
  )

/** True once nothing accepts connections at `url`. */
const refusing = (url: string) =>
  Effect.promise(() =>
    new Promise<boolean>((resolve) => {
      const { hostname, port } = new URL(url)
      const probe = connect(Number(port), hostname)
      probe.once("connect", () => {
        probe.destroy()
        resolve(false)
      })
      probe.once("error", () => resolve(true))
    })
  )

/** Every acknowledged id is in the file now, and reaches the target once the service runs again. */
const nothingLost = (
  acked: ReadonlyArray<string>,
  dataDir: string,
  env: Record<string, string>,
  target: { readonly requests: ReadonlyArray<Captured> }
) =>
  Effect.gen(function*() {
    const inFile = new Set(yield* recordedIds(dataDir))
    for (const id of acked) assert.isTrue(inFile.has(id), `${id} acknowledged but not in the file`)
    yield* spawnService(env)
    const forwarded = () => new Set(target.requests.map((request) => request.headers["x-notification-id"]))
    yield* eventually("every acknowledged id at the target", Effect.sync(forwarded), (seen) =>
      acked.every((id) =>
        seen.has(id)
      ))
  })

describe("durability (real processes)", () => {
  it.scopedLive(
    "SIGKILL under load: every acknowledged notification is in the file and reaches the target",
    () =>
      Effect.gen(function*() {
        const dataDir = mkdtempSync(join(tmpdir(), "sigkill-"))
        const target = yield* startTarget()
        const env = { DATA_DIR: dataDir, SINKS: "file,http", HTTP_FORWARD_URL: target.url, ...fast }
        const first = yield* spawnService(env)
        const sending = yield* Effect.fork(load(first.url, ids("kill", 400)))
        yield* eventually("some acknowledgements", recordedIds(dataDir), (recorded) => recorded.length >= 100)
        first.process.kill("SIGKILL")
        const acked = yield* sending.await.pipe(Effect.flatMap((exit) => exit))
        assert.isAbove(acked.length, 0)
        assert.isBelow(acked.length, 400, "the kill landed while requests were in flight")

        yield* nothingLost(acked, dataDir, env, target)
      }),
    60_000
  )

  it.scopedLive(
    "target down while 300 arrive, with a restart in between: all 300 reach it once it is back",
    () =>
      Effect.gen(function*() {
        const dataDir = mkdtempSync(join(tmpdir(), "down-"))
        const port = yield* freePort
        // Only the head is tried while the target is down: with 20-200 ms backoff, 25 attempts would make it a dead
        // letter after about 2 s of outage, and loading takes longer than that on a busy machine.
        const env = {
          DATA_DIR: dataDir,
          SINKS: "http",
          HTTP_FORWARD_URL: `http://127.0.0.1:${port}/hooks`,
          MAX_ATTEMPTS: "10000",
          ...fast
        }
        const first = yield* spawnService(env)
        const before = yield* load(first.url, ids("down-a", 150))
        first.process.kill("SIGTERM")
        assert.strictEqual(yield* Effect.promise(() => first.exited), 0)
        const second = yield* spawnService(env)
        const after = yield* load(second.url, ids("down-b", 150))
        assert.strictEqual(before.length + after.length, 300)

        const target = yield* startTarget(() => 200, port)
        const forwarded = () => new Set(target.requests.map((request) => request.headers["x-notification-id"]))
        yield* eventually("all 300 at the target", Effect.sync(forwarded), (seen) => seen.size === 300, 30_000)
        assert.strictEqual(target.requests.length, 300, "each delivered once")
      }),
    90_000
  )

  it.scopedLive(
    "SIGTERM with a request half-sent: it is completed, answered 200 and recorded, then exit 0",
    () =>
      Effect.gen(function*() {
        const dataDir = mkdtempSync(join(tmpdir(), "half-sent-"))
        const service = yield* spawnService({ DATA_DIR: dataDir, SINKS: "file" })
        const body = notification("half-sent")
        const request = yield* rawPost(service.url, body)
        yield* Effect.promise(() => request.continued)
        request.send(body.subarray(0, 100))
        service.process.kill("SIGTERM")
        yield* eventually("the service to stop accepting connections", refusing(service.url), (refused) => refused)
        request.send(body.subarray(100))
        const answer = yield* Effect.promise(() => request.answer)
        assert.match(answer, /^HTTP\/1\.1 200 /, answer)
        assert.match(answer, /\r\nconnection: close\r\n/i, answer)
        assert.strictEqual(yield* Effect.promise(() => service.exited), 0, service.stderr())
        assert.deepStrictEqual(yield* recordedIds(dataDir), ["half-sent"])
      }),
    60_000
  )

  it.scopedLive("SIGTERM during load: exit 0, and nothing acknowledged is lost", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "sigterm-"))
      const target = yield* startTarget()
      const env = { DATA_DIR: dataDir, SINKS: "file,http", HTTP_FORWARD_URL: target.url, ...fast }
      const service = yield* spawnService(env)
      const sending = yield* Effect.fork(load(service.url, ids("term", 400)))
      yield* eventually("some acknowledgements", recordedIds(dataDir), (recorded) => recorded.length >= 100)
      service.process.kill("SIGTERM")
      assert.strictEqual(yield* Effect.promise(() => service.exited), 0, service.stderr())
      const acked = yield* sending.await.pipe(Effect.flatMap((exit) => exit))
      yield* nothingLost(acked, dataDir, env, target)
    }), 60_000)
})
