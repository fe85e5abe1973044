import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Duration, Effect, Option } from "effect"
import { execFile, spawn } from "node:child_process"
import { join } from "node:path"
import { promisify } from "node:util"
import { Handlers } from "../src/Handlers.js"
import type { ReplayFilter } from "../src/Outbox.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { startTarget } from "./support/Target.js"
import { startServer } from "./support/TestServer.js"

const fixtures = loadFixtures()
const fixture = (topic: string) => fixtures.find((candidate) => candidate.topic === topic)!
const fast = { RETRY_BASE_DELAY: "10ms", RETRY_MAX_DELAY: "20ms" }
const nothing: ReplayFilter = { sink: Option.none(), topic: Option.none(), since: Option.none() }
const root = new URL("..", import.meta.url).pathname
/** Locks the database at argv[1] for argv[2] ms from another process; prints a line once it holds the lock. */
const holdLock = `const db = require("better-sqlite3")(process.argv[1])
db.exec("BEGIN EXCLUSIVE")
console.log("locked")
setTimeout(() => { db.exec("ROLLBACK"); db.close() }, Number(process.argv[2]))`

describe("the outbox", () => {
  it.scopedLive("a target answering 500 is retried with backoff until it answers 200", () =>
    Effect.gen(function*() {
      const target = yield* startTarget((n) => n <= 2 ? 500 : 200)
      const server = yield* startServer({ SINKS: "http", HTTP_FORWARD_URL: target.url, ...fast })
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
      const server = yield* startServer({ SINKS: "http", HTTP_FORWARD_URL: target.url, ...fast })
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
      const server = yield* startServer({ SINKS: "http", HTTP_FORWARD_URL: target.url, MAX_ATTEMPTS: "3", ...fast })
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      const [dead] = yield* eventually("a dead letter", server.records("dead-letter.jsonl"), (r) => r.length === 1)
      assert.strictEqual(dead!.reason, "exhausted")
      assert.strictEqual(dead!.attempts, 3)
      assert.strictEqual(target.requests.length, 3)
    }))

  it.scopedLive("Retry-After is honoured", () =>
    Effect.gen(function*() {
      const target = yield* startTarget((n) => n === 1 ? { status: 429, headers: { "retry-after": "1" } } : 200)
      const server = yield* startServer({ SINKS: "http", HTTP_FORWARD_URL: target.url, ...fast })
      const startedAt = Date.now()
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      yield* eventually("the second attempt", Effect.sync(() => target.requests.length), (n) => n === 2)
      assert.isAtLeast(Date.now() - startedAt, 900, "Retry-After: 1 was asked by the target's answer")
    }))

  it.scopedLive("a notification id is accepted once: a retry by Intercom is answered 200 and not delivered again", () =>
    Effect.gen(function*() {
      const target = yield* startTarget()
      const server = yield* startServer({ SINKS: "file,http", HTTP_FORWARD_URL: target.url })
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
      const server = yield* startServer({ SINKS: "file" })
      for (let i = 0; i < 3; i++) {
        assert.strictEqual((yield* server.post(fixture("ping").bytes)).json.status, "accepted")
      }
      assert.strictEqual((yield* server.records()).length, 3)
    }))

  it.scopedLive("dedupe survives a restart", () =>
    Effect.gen(function*() {
      const first = yield* Effect.scoped(
        Effect.gen(function*() {
          const server = yield* startServer({ SINKS: "file" }, undefined, "keep")
          assert.strictEqual((yield* server.post(fixture("contacts.created").bytes)).json.status, "accepted")
          return server.dataDir
        })
      )
      const again = yield* startServer({ SINKS: "file", DATA_DIR: first })
      assert.strictEqual((yield* again.post(fixture("contacts.created").bytes)).json.status, "duplicate")
    }))

  it.scopedLive("a failing target does not hold up another sink", () =>
    Effect.gen(function*() {
      let handled = 0
      const handlers = Handlers.layer({ ping: () => Effect.sync(() => handled++) })
      const server = yield* startServer(
        { SINKS: "http", HTTP_FORWARD_URL: "http://127.0.0.1:9/down", ...fast },
        handlers
      )
      const before = Date.now()
      for (let i = 0; i < 5; i++) assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      yield* eventually("the handlers", Effect.sync(() => handled), (n) => n === 5)
      const depth = yield* server.outbox.depth
      assert.strictEqual(depth.count, 5, "the http deliveries still wait")
      const oldest = Option.getOrThrow(depth.oldest).getTime()
      assert.isAtLeast(oldest, before)
      assert.isAtMost(oldest, Date.now())
    }))

  it.scopedLive("OUTBOX_MAX_ROWS waiting deliveries: new notifications get 503 with Retry-After", () =>
    Effect.gen(function*() {
      const server = yield* startServer({
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

  it.scopedLive("a full outbox still takes notifications routed to inline sinks only", () =>
    Effect.gen(function*() {
      const server = yield* startServer({
        SINKS: "file,http",
        HTTP_FORWARD_URL: "http://127.0.0.1:9/down",
        ROUTES: "ping=http;*=file",
        OUTBOX_MAX_ROWS: "1"
      })
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).json.error, "outbox_full")
      const inline = yield* server.post(fixture("contacts.deleted").bytes)
      assert.strictEqual(inline.json.status, "accepted")
      assert.deepStrictEqual(inline.json.sinks, ["file"])
    }))

  it.scopedLive("a full disk answers 503, never 2xx, and /readyz says so", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ SINKS: "file", FILE_SINK_PATH: "/dev/full" })
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
      const server = yield* startServer({ SINKS: "http", HTTP_FORWARD_URL: target.url, ...fast })
      assert.strictEqual((yield* server.post(fixture("contacts.created").bytes)).status, 200)
      yield* eventually("a dead letter", server.records("dead-letter.jsonl"), (records) => records.length === 1)
      answer = 200
      const { stdout } = yield* Effect.promise(() =>
        promisify(execFile)(join(root, "node_modules/.bin/tsx"), ["scripts/replay.ts", "--sink", "http"], {
          cwd: root,
          env: { ...process.env, DATA_DIR: server.dataDir }
        })
      )
      assert.include(stdout, "replayed 1 dead letter(s)")
      yield* eventually("the replayed delivery", Effect.sync(() => target.requests.length), (n) => n === 2)
    }))

  it.scopedLive("replay chooses dead letters by topic, time and sink; a replayed schema mismatch is set aside again", () =>
    Effect.gen(function*() {
      let answer = 422
      const target = yield* startTarget(() => answer)
      const server = yield* startServer({ SINKS: "http", HTTP_FORWARD_URL: target.url, ...fast })
      const contact = fixture("contacts.created")
      const mismatch = JSON.stringify({
        type: "notification_event",
        topic: "contact.user.created",
        id: "notif_mismatch",
        data: { item: { type: "contact", id: 12345 } }
      })
      const closed = fixture("conversations.closed")
      for (const sent of [fixture("ping"), contact, closed]) {
        assert.strictEqual((yield* server.post(sent.bytes)).status, 200)
      }
      assert.strictEqual((yield* server.post(mismatch)).json.reason, "schema_mismatch")
      const buried = yield* eventually("four dead letters", server.records("dead-letter.jsonl"), (r) => r.length === 4)
      const buriedContact = buried.find((record) => record.id === (contact.json as { id: string }).id)!
      assert.strictEqual(buriedContact.topic, "contacts.created")
      assert.strictEqual(buriedContact.app_id, (contact.json as { app_id: string }).app_id)
      answer = 200

      const replay = (filter: Partial<ReplayFilter>) => server.outbox.replay({ ...nothing, ...filter })
      assert.strictEqual(yield* replay({ since: Option.some(new Date(Date.now() + 60_000)) }), 0)
      assert.strictEqual(yield* replay({ topic: Option.some("ping") }), 1)
      assert.strictEqual(yield* replay({ topic: Option.some("contacts.created"), since: Option.some(new Date(0)) }), 1)
      assert.strictEqual(yield* replay({ topic: Option.some((closed.json as { topic: string }).topic) }), 1)
      assert.strictEqual(yield* replay({}), 0, "without --sink, a dead letter that has none stays")
      assert.strictEqual(yield* replay({ sink: Option.some("http") }), 1)

      yield* eventually("the replayed deliveries", Effect.sync(() => target.requests.length), (n) => n === 6)
      const dead = yield* eventually(
        "the mismatch set aside again",
        server.records("dead-letter.jsonl"),
        (r) => r.length === 5
      )
      assert.deepStrictEqual(
        target.requests.slice(3).map((request) => request.headers["x-notification-id"] ?? null),
        [null, (contact.json as { id: string }).id, (closed.json as { id: string }).id]
      )
      assert.strictEqual(dead[4]!.id, "notif_mismatch")
      assert.strictEqual(dead[4]!.reason, "schema_mismatch")
      assert.strictEqual(dead[4]!.sink, "http")
      assert.strictEqual(dead[4]!.attempts, 0, "never sent")
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
    }))

  it.scopedLive("MAX_AGE: a delivery still failing when it is older becomes a dead letter with reason expired", () =>
    Effect.gen(function*() {
      const target = yield* startTarget(() => 503)
      const server = yield* startServer({
        SINKS: "http",
        HTTP_FORWARD_URL: target.url,
        MAX_AGE: "300ms",
        RETRY_BASE_DELAY: "50ms",
        RETRY_MAX_DELAY: "50ms"
      })
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      const [dead] = yield* eventually("a dead letter", server.records("dead-letter.jsonl"), (r) => r.length === 1)
      assert.strictEqual(dead!.reason, "expired")
      assert.include(dead!.error as string, "MAX_AGE")
      assert.isAtLeast(target.requests.length, 1)
      assert.strictEqual(dead!.attempts, target.requests.length, "the attempts made, not one more")
      assert.strictEqual(yield* server.outboxDepth, 0)
    }))

  it.scopedLive("DEDUPE_WINDOW: an id is a duplicate within the window and new again after it", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ SINKS: "file", DEDUPE_WINDOW: "1s" })
      const sent = fixture("contacts.deleted")
      assert.strictEqual((yield* server.post(sent.bytes)).json.status, "accepted")
      assert.strictEqual((yield* server.post(sent.bytes)).json.status, "duplicate")
      yield* Effect.sleep(Duration.millis(1100))
      assert.strictEqual((yield* server.post(sent.bytes)).json.status, "accepted")
      assert.strictEqual((yield* server.post(sent.bytes)).json.status, "duplicate")
      assert.strictEqual((yield* server.records()).length, 2)
    }))

  it.scopedLive("OUTBOX_MAX_ROWS counts waiting deliveries only: delivered and dead-lettered ones free their place", () =>
    Effect.gen(function*() {
      let answer = 200
      const target = yield* startTarget(() => answer)
      const server = yield* startServer({ SINKS: "http", HTTP_FORWARD_URL: target.url, OUTBOX_MAX_ROWS: "1", ...fast })
      for (let i = 0; i < 3; i++) {
        assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
        yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      }
      answer = 400
      for (let i = 0; i < 3; i++) {
        assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
        yield* eventually("a dead letter", server.records("dead-letter.jsonl"), (records) => records.length === i + 1)
      }
      assert.strictEqual(target.requests.length, 6)
    }))

  it.scopedLive("a store locked past STORE_BUSY_TIMEOUT_MS answers 503, never 2xx", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ SINKS: "file", STORE_BUSY_TIMEOUT_MS: "100" })
      assert.strictEqual((yield* server.post(fixture("contacts.created").bytes)).status, 200)
      const other = new Database(join(server.dataDir, "receiver.db"))
      other.exec("BEGIN EXCLUSIVE")
      const locked = yield* server.post(fixture("contacts.deleted").bytes)
      other.exec("ROLLBACK")
      other.close()
      assert.strictEqual(locked.status, 503)
      assert.strictEqual(locked.json.error, "storage_unavailable")
      assert.strictEqual((yield* server.post(fixture("contacts.deleted").bytes)).json.status, "accepted")
    }))

  it.scopedLive("STORE_BUSY_TIMEOUT_MS is how long a write waits: a lock held a little longer by another process gives 503", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ SINKS: "file", STORE_BUSY_TIMEOUT_MS: "100" })
      assert.strictEqual((yield* server.post(fixture("contacts.created").bytes)).status, 200)
      const holder = spawn(process.execPath, ["-e", holdLock, join(server.dataDir, "receiver.db"), "1500"], {
        cwd: root,
        stdio: ["ignore", "pipe", "inherit"]
      })
      const released = new Promise<number | null>((resolve) => holder.once("exit", resolve))
      yield* Effect.promise(() => new Promise<void>((resolve) => holder.stdout!.once("data", () => resolve())))
      const locked = yield* server.post(fixture("contacts.deleted").bytes)
      assert.strictEqual(yield* Effect.promise(() => released), 0)
      assert.strictEqual(locked.status, 503, "answered before the lock was released, not after")
      assert.strictEqual(locked.json.error, "storage_unavailable")
    }))
})
