import { assert, it } from "@effect/vitest"
import { Effect, Option, type Scope } from "effect"
import { execFile } from "node:child_process"
import { join } from "node:path"
import { promisify } from "node:util"
import { Handlers } from "../../src/sinks/Handlers.js"
import { eventually } from "./Eventually.js"
import { loadFixtures } from "./Fixtures.js"
import { startTarget } from "./Target.js"
import { startServer } from "./TestServer.js"

const fixtures = loadFixtures()
const fixture = (topic: string) => fixtures.find((candidate) => candidate.topic === topic)!
const fast = { RETRY_BASE_DELAY: "10ms", RETRY_MAX_DELAY: "20ms" }
const nothing = { sink: Option.none(), topic: Option.none(), since: Option.none() }
const root = new URL("../..", import.meta.url).pathname

/**
 * The outbox's behaviour, the same whichever store is behind it: `store` gives the settings that choose it (nothing for
 * the embedded SQLite, `STORE_URL` of a fresh database for PostgreSQL), once per test.
 */
export const outboxSuite = (store: Effect.Effect<Record<string, string>, never, Scope.Scope>) => {
  it.scopedLive("a target answering 500 is retried with backoff until it answers 200", () =>
    Effect.gen(function*() {
      const target = yield* startTarget((n) => n <= 2 ? 500 : 200)
      const server = yield* startServer({ ...(yield* store), SINKS: "http", HTTP_FORWARD_URL: target.url, ...fast })
      const sent = fixture("conversations.created")
      assert.strictEqual((yield* server.post(sent.bytes)).status, 200)
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      assert.strictEqual(target.requests.length, 3)
      for (const request of target.requests) assert.isTrue(request.body.equals(sent.bytes))
      assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), [])
    }))

  it.scopedLive("a target answering 400 rejects: dead letter with the last error; replay delivers it later", () =>
    Effect.gen(function*() {
      let answer = 400
      const target = yield* startTarget(() => answer)
      const server = yield* startServer({ ...(yield* store), SINKS: "http", HTTP_FORWARD_URL: target.url, ...fast })
      const sent = fixture("contacts.deleted")
      assert.strictEqual((yield* server.post(sent.bytes)).status, 200)
      const [dead] = yield* eventually(
        "a dead letter",
        server.records("dead-letter.jsonl"),
        (records) => records.length === 1
      )
      assert.strictEqual(dead!.reason, "rejected")
      assert.strictEqual(dead!.sink, "http")
      assert.strictEqual(dead!.attempts, 1)
      assert.include(dead!.error as string, "answered 400")
      assert.deepStrictEqual(dead!.payload, sent.json)
      assert.strictEqual(target.requests.length, 1)

      answer = 200
      assert.strictEqual(yield* server.outbox.replay(nothing), 1)
      yield* eventually("the replayed delivery", Effect.sync(() => target.requests.length), (n) => n === 2)
      assert.isTrue(target.requests[1]!.body.equals(sent.bytes))
      assert.strictEqual(yield* server.outbox.replay(nothing), 0, "a dead letter is replayed once")
    }))

  it.scopedLive("MAX_ATTEMPTS failures make a dead letter with reason exhausted", () =>
    Effect.gen(function*() {
      const target = yield* startTarget(() => 503)
      const server = yield* startServer({
        ...(yield* store),
        SINKS: "http",
        HTTP_FORWARD_URL: target.url,
        MAX_ATTEMPTS: "3",
        ...fast
      })
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      const [dead] = yield* eventually("a dead letter", server.records("dead-letter.jsonl"), (r) => r.length === 1)
      assert.strictEqual(dead!.reason, "exhausted")
      assert.strictEqual(dead!.attempts, 3)
      assert.strictEqual(target.requests.length, 3)
    }))

  it.scopedLive("Retry-After is honoured", () =>
    Effect.gen(function*() {
      const target = yield* startTarget((n) => n === 1 ? { status: 429, headers: { "retry-after": "1" } } : 200)
      const server = yield* startServer({ ...(yield* store), SINKS: "http", HTTP_FORWARD_URL: target.url, ...fast })
      const startedAt = Date.now()
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      yield* eventually("the second attempt", Effect.sync(() => target.requests.length), (n) => n === 2)
      assert.isAtLeast(Date.now() - startedAt, 900, "Retry-After: 1 was asked by the target's answer")
    }))

  it.scopedLive("a notification id is accepted once: a retry by Intercom is answered 200 and not delivered again", () =>
    Effect.gen(function*() {
      const target = yield* startTarget()
      const server = yield* startServer({ ...(yield* store), SINKS: "file,http", HTTP_FORWARD_URL: target.url })
      const sent = fixture("conversations.assigned")
      const first = yield* server.post(sent.bytes)
      const again = yield* server.post(sent.bytes)
      assert.strictEqual(first.json.status, "accepted")
      assert.strictEqual(again.status, 200)
      assert.strictEqual(again.json.status, "duplicate")
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      assert.strictEqual(target.requests.length, 1)
      assert.strictEqual((yield* server.records()).length, 1)
    }))

  it.scopedLive("ping has no id and is never deduped", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ ...(yield* store), SINKS: "file" })
      for (let i = 0; i < 3; i++) {
        assert.strictEqual((yield* server.post(fixture("ping").bytes)).json.status, "accepted")
      }
      assert.strictEqual((yield* server.records()).length, 3)
    }))

  it.scopedLive("dedupe survives a restart", () =>
    Effect.gen(function*() {
      const env = yield* store
      const first = yield* Effect.scoped(
        Effect.gen(function*() {
          const server = yield* startServer({ ...env, SINKS: "file" }, undefined, "keep")
          assert.strictEqual((yield* server.post(fixture("contacts.created").bytes)).json.status, "accepted")
          return server.dataDir
        })
      )
      const again = yield* startServer({ ...env, SINKS: "file", DATA_DIR: first })
      assert.strictEqual((yield* again.post(fixture("contacts.created").bytes)).json.status, "duplicate")
    }))

  it.scopedLive("a failing target does not hold up another sink", () =>
    Effect.gen(function*() {
      let handled = 0
      const handlers = Handlers.layer({ ping: () => Effect.sync(() => handled++) })
      const server = yield* startServer(
        { ...(yield* store), SINKS: "http", HTTP_FORWARD_URL: "http://127.0.0.1:9/down", ...fast },
        handlers
      )
      for (let i = 0; i < 5; i++) assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      yield* eventually("the handlers", Effect.sync(() => handled), (n) => n === 5)
      // The handlers' deliveries are recorded as done just after they ran; the http ones never are.
      yield* eventually("only the http deliveries to wait", server.outboxDepth, (n) => n === 5)
    }))

  it.scopedLive("OUTBOX_MAX_ROWS waiting deliveries: new notifications get 503 with Retry-After", () =>
    Effect.gen(function*() {
      const server = yield* startServer({
        ...(yield* store),
        SINKS: "http",
        HTTP_FORWARD_URL: "http://127.0.0.1:9/down",
        OUTBOX_MAX_ROWS: "2"
      })
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      const full = yield* server.post(fixture("ping").bytes)
      assert.strictEqual(full.status, 503)
      assert.strictEqual(full.json.error, "outbox_full")
      assert.strictEqual(full.headers.get("retry-after"), "60")
    }))

  it.scopedLive("a full disk answers 503, never 2xx, and /readyz says so", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ ...(yield* store), SINKS: "file", FILE_SINK_PATH: "/dev/full" })
      assert.strictEqual((yield* server.request("/readyz")).status, 200)
      const answer = yield* server.post(fixture("ping").bytes)
      assert.strictEqual(answer.status, 503)
      assert.strictEqual(answer.headers.get("retry-after"), "60")
      const ready = yield* server.request("/readyz")
      assert.strictEqual(ready.status, 503)
      assert.deepStrictEqual(ready.json, { status: "unready", problems: ["cannot write /dev/full"] })
    }))

  it.scopedLive("npm run replay, from another process, puts dead letters back for the running service", () =>
    Effect.gen(function*() {
      let answer = 422
      const target = yield* startTarget(() => answer)
      const env = yield* store
      const server = yield* startServer({ ...env, SINKS: "http", HTTP_FORWARD_URL: target.url, ...fast })
      assert.strictEqual((yield* server.post(fixture("contacts.created").bytes)).status, 200)
      yield* eventually("a dead letter", server.records("dead-letter.jsonl"), (records) => records.length === 1)
      answer = 200
      const { stdout } = yield* Effect.promise(() =>
        promisify(execFile)(join(root, "node_modules/.bin/tsx"), ["scripts/replay.ts", "--sink", "http"], {
          cwd: root,
          env: { ...process.env, ...env, DATA_DIR: server.dataDir }
        })
      )
      assert.include(stdout, "replayed 1 dead letter(s)")
      yield* eventually("the replayed delivery", Effect.sync(() => target.requests.length), (n) => n === 2)
    }))
}
