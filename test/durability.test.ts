import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { createServer } from "node:net"
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
        // However long the loading takes on a busy machine, no delivery may run out of attempts before the target is up.
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
