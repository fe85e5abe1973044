import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Duration, Effect, Either, Fiber, Layer, Option } from "effect"
import type { FileHandle } from "node:fs/promises"
import { DataSync } from "../src/store/DataSync.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { startTarget } from "./support/Target.js"
import { startServer } from "./support/TestServer.js"

const fixtures = loadFixtures()
const fixture = (topic: string) => fixtures.find((candidate) => candidate.topic === topic)!

/** Syncs every file as usual except those `fails` picks, whose sync fails as a disk error would. */
const failingSync = (fails: (path: string) => boolean) =>
  Layer.succeed(
    DataSync,
    (path: string, handle: FileHandle) =>
      fails(path) ? Promise.reject(new Error(`EIO: i/o error, fdatasync ${path}`)) : handle.datasync()
  )

const isWal = (path: string) => path.endsWith("-wal")

describe("fdatasync before every 200", () => {
  it.scopedLive("file: a failing fdatasync answers 503 and keeps nothing; once syncs work, the retry is taken", () =>
    Effect.gen(function*() {
      let failing = false
      const server = yield* startServer(
        { SINKS: "file" },
        failingSync((path) => failing && path.endsWith("events.jsonl"))
      )
      const first = fixture("contacts.deleted")
      assert.strictEqual((yield* server.post(first.bytes)).status, 200)
      failing = true
      const sent = fixture("contacts.created")
      const refused = yield* server.post(sent.bytes)
      assert.strictEqual(refused.status, 503)
      assert.strictEqual(refused.json.error, "sink_unavailable")
      assert.deepStrictEqual(
        (yield* server.records()).map((record) => record.payload),
        [first.json],
        "the unsynced line is cut off again, the acknowledged one kept"
      )
      yield* eventually("/readyz to say unready", server.request("/readyz"), (answer) => answer.status === 503)

      failing = false
      const retried = yield* server.post(sent.bytes)
      assert.strictEqual(retried.json.status, "accepted", "the refused notification's id was not remembered")
      assert.deepStrictEqual((yield* server.records()).map((record) => record.payload), [first.json, sent.json])
      yield* eventually(
        "a write that succeeds to make it ready again",
        server.request("/readyz"),
        (answer) => answer.status === 200
      )
    }))

  it.scopedLive("store: a failing WAL fdatasync answers 503, never 200; the retry is taken, not a duplicate", () =>
    Effect.gen(function*() {
      let failing = true
      const target = yield* startTarget()
      const server = yield* startServer(
        { SINKS: "http", HTTP_FORWARD_URL: target.url },
        failingSync((path) => failing && isWal(path))
      )
      const sent = fixture("conversations.closed")
      const refused = yield* server.post(sent.bytes)
      assert.strictEqual(refused.status, 503)
      assert.strictEqual(refused.json.error, "storage_unavailable")
      assert.strictEqual(yield* server.outboxDepth, 0, "the refused notification's delivery is taken back")

      failing = false
      const retried = yield* server.post(sent.bytes)
      assert.strictEqual(retried.json.status, "accepted", "its id was taken back too")
      yield* eventually("the delivery", Effect.sync(() => target.requests.length), (n) => n === 1)
    }))

  it.scopedLive("store: with a failing WAL fdatasync, dead letters (no route), /readyz and replay refuse too", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ SINKS: "file", ROUTES: "contacts.*=file" }, failingSync(isWal))
      const refused = yield* server.post(fixture("ping").bytes)
      assert.strictEqual(refused.status, 503)
      assert.strictEqual(refused.json.error, "storage_unavailable")
      const ready = yield* server.request("/readyz")
      assert.strictEqual(ready.status, 503)
      assert.deepStrictEqual(ready.json, { status: "unready" })
      assert.include(server.logs.find((line) => line.includes("not ready")), "store: EIO")
      const replay = yield* Effect.either(
        server.outbox.replay({ sink: Option.none(), topic: Option.none(), since: Option.none() })
      )
      assert.isTrue(Either.isLeft(replay))
    }))

  it.scopedLive("store: a notification for inline sinks only is answered without waiting for the WAL fdatasync", () =>
    Effect.gen(function*() {
      const held: Array<() => void> = []
      const holding = Layer.succeed(DataSync, (path: string, handle: FileHandle) =>
        isWal(path)
          ? new Promise<void>((resolve, reject) => held.push(() => handle.datasync().then(resolve, reject)))
          : handle.datasync())
      const server = yield* startServer({ SINKS: "file" }, holding)
      const answer = yield* server.post(fixture("contacts.created").bytes).pipe(
        Effect.timeoutFail({ duration: Duration.seconds(10), onTimeout: () => "no answer while the WAL sync is held" })
      )
      assert.strictEqual(answer.json.status, "accepted")
      assert.deepStrictEqual(held, [], "its id was committed without a WAL sync")
    }))

  /** Posts `bytes` while the WAL's sync is held: the order in which the sync, its release and the answer came. */
  const answerAgainstHeldSync = (env: Record<string, string>, bytes: Uint8Array) =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const held: Array<() => void> = []
      const holding = Layer.succeed(DataSync, (path: string, handle: FileHandle) => {
        if (!isWal(path)) return handle.datasync()
        events.push("sync")
        return new Promise<void>((resolve, reject) => held.push(() => handle.datasync().then(resolve, reject)))
      })
      const server = yield* startServer(env, holding)
      const answering = yield* server.post(bytes).pipe(
        Effect.tap(() => events.push("answer")),
        Effect.fork
      )
      yield* eventually("the WAL sync or the answer", Effect.sync(() => events.length), (n) => n > 0)
      // Time for an answer that does not wait for the sync to arrive, and be seen before the release.
      yield* Effect.sleep(Duration.millis(200))
      events.push("release")
      for (const release of held.splice(0)) release()
      const answer = yield* Fiber.join(answering)
      assert.strictEqual(answer.status, 200)
      return events
    })

  it.scopedLive("store: the answer waits for the WAL fdatasync", () =>
    Effect.gen(function*() {
      const target = yield* startTarget()
      const events = yield* answerAgainstHeldSync(
        { SINKS: "http", HTTP_FORWARD_URL: target.url },
        fixture("conversations.closed").bytes
      )
      assert.deepStrictEqual(events, ["sync", "release", "answer"])
    }))

  it.scopedLive("store: a notification for the mirror alone waits for the WAL fdatasync too (its rows are in it)", () =>
    Effect.gen(function*() {
      const events = yield* answerAgainstHeldSync({ SINKS: "mirror" }, fixture("contacts.created").bytes)
      assert.deepStrictEqual(events, ["sync", "release", "answer"])
    }))

  it.scopedLive("store: what a WAL fdatasync is asked to make durable is already committed (a dedupe read just before)", () =>
    Effect.gen(function*() {
      // Seen from another connection at the moment each WAL sync starts: the dead letters committed so far.
      const visible: Array<number> = []
      const checking = Layer.succeed(DataSync, (path: string, handle: FileHandle) => {
        if (isWal(path)) {
          const other = new Database(path.slice(0, -"-wal".length), { readonly: true })
          visible.push(other.prepare<[], number>("SELECT COUNT(*) FROM dead_letters").pluck().get()!)
          other.close()
        }
        return handle.datasync()
      })
      const server = yield* startServer({ SINKS: "file", ROUTES: "contacts.*=file" }, checking)
      // Its id is looked up first (a dedupe read), then, no route matching, it becomes a dead letter in the same turn.
      const answer = yield* server.post(fixture("conversations.closed").bytes)
      assert.strictEqual(answer.json.status, "dead_lettered")
      assert.strictEqual(visible.at(-1), 1, "the dead letter was committed before its sync began")
    }))
})
