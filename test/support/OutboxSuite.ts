import { assert, it } from "@effect/vitest"
import { Duration, Effect, Option, type Scope } from "effect"
import { execFile } from "node:child_process"
import { join } from "node:path"
import { promisify } from "node:util"
import { Handlers } from "../../src/sinks/Handlers.js"
import type { ReplayFilter } from "../../src/store/Outbox.js"
import { eventually } from "./Eventually.js"
import { loadFixtures } from "./Fixtures.js"
import { startTarget } from "./Target.js"
import { startServer } from "./TestServer.js"

const fixtures = loadFixtures()
const fixture = (topic: string) => fixtures.find((candidate) => candidate.topic === topic)!
const fast = { RETRY_BASE_DELAY: "10ms", RETRY_MAX_DELAY: "20ms" }
const nothing: ReplayFilter = { sink: Option.none(), topic: Option.none(), since: Option.none() }
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

  it.scopedLive("MAX_ATTEMPTS failures of a notification make a dead letter with reason exhausted", () =>
    Effect.gen(function*() {
      let calls = 0
      const handlers = Handlers.layer({
        ping: () => Effect.sync(() => calls++).pipe(Effect.zipRight(Effect.fail("not today")))
      })
      const server = yield* startServer({ ...(yield* store), SINKS: "file", MAX_ATTEMPTS: "3", ...fast }, handlers)
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      const [dead] = yield* eventually("a dead letter", server.records("dead-letter.jsonl"), (r) => r.length === 1)
      assert.strictEqual(dead!.reason, "exhausted")
      assert.strictEqual(dead!.sink, "handlers")
      assert.strictEqual(dead!.attempts, 3)
      assert.include(dead!.error as string, "not today")
      assert.strictEqual(calls, 3)
    }))

  it.scopedLive("a target that is down spends no attempt: probed, never exhausted, delivered once it is back", () =>
    Effect.gen(function*() {
      let answer = 503
      const target = yield* startTarget(() => answer)
      const server = yield* startServer({
        ...(yield* store),
        SINKS: "http",
        HTTP_FORWARD_URL: target.url,
        MAX_ATTEMPTS: "2",
        PROBE_INTERVAL: "200ms",
        ...fast
      })
      const sent = [fixture("ping"), fixture("contacts.created"), fixture("conversations.closed")]
      for (const notification of sent) assert.strictEqual((yield* server.post(notification.bytes)).status, 200)
      yield* eventually("several probes", Effect.sync(() => target.requests.length), (n) => n >= 6)
      assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), [], "no attempt was spent")
      const probes = target.requests.length
      yield* Effect.sleep(Duration.millis(1000))
      const perSecond = target.requests.length - probes
      assert.isAtMost(perSecond, 8, "one probe at a time, at most every PROBE_INTERVAL once it has backed off")
      assert.isAtLeast(perSecond, 3, "probed every PROBE_INTERVAL")
      answer = 200
      const startedAt = Date.now()
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      assert.isAtMost(Date.now() - startedAt, 1500, "delivered within a probe interval or so of its return")
      const delivered = target.requests.slice(-3).map((request) => request.body)
      assert.sameMembers(
        delivered.map((body) => body.toString()),
        sent.map((notification) => notification.bytes.toString())
      )
      assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), [])
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
      const before = Date.now()
      for (let i = 0; i < 5; i++) assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      yield* eventually("the handlers", Effect.sync(() => handled), (n) => n === 5)
      // The handlers' deliveries are recorded as done just after they ran; the http ones never are.
      yield* eventually("only the http deliveries to wait", server.outboxDepth, (n) => n === 5)
      const oldest = Option.getOrThrow((yield* server.outbox.depth).oldest).getTime()
      assert.isAtLeast(oldest, before)
      assert.isAtMost(oldest, Date.now())
    }))

  it.scopedLive("a full outbox still takes notifications routed to inline sinks only", () =>
    Effect.gen(function*() {
      const server = yield* startServer({
        ...(yield* store),
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
      const ready = yield* eventually("/readyz to say unready", server.request("/readyz"), (r) => r.status === 503)
      assert.deepStrictEqual(ready.json, { status: "unready" }, "what is wrong is not public")
      const logged = server.logs.map((line) => JSON.parse(line)).find((line) => line.message === "not ready")
      assert.deepStrictEqual(logged?.annotations.problems, ["cannot write /dev/full"])
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

  it.scopedLive("replay chooses dead letters by topic, time and sink; a sink-less one goes to the sink named", () =>
    Effect.gen(function*() {
      let answer = 422
      const target = yield* startTarget(() => answer)
      const server = yield* startServer({
        ...(yield* store),
        SINKS: "http",
        HTTP_FORWARD_URL: target.url,
        ROUTES: "contacts.*=http;conversations.*=http;ping=http",
        // Dead letters about different objects come back in the order they were put back only in strict order.
        DELIVERY_ORDER: "receive",
        ...fast
      })
      const contact = fixture("contacts.created")
      const mismatch = JSON.stringify({
        type: "notification_event",
        topic: "contact.user.created",
        id: "notif_mismatch",
        data: { item: { type: "contact", id: 12345 } }
      })
      const closed = fixture("conversations.closed")
      for (const sent of [fixture("ping").bytes, contact.bytes, closed.bytes, mismatch]) {
        assert.strictEqual((yield* server.post(sent)).json.status, "accepted")
      }
      const ticket = JSON.stringify({
        type: "notification_event",
        topic: "ticket.created",
        id: "t1",
        data: { item: {} }
      })
      assert.strictEqual((yield* server.post(ticket)).json.reason, "no_route")
      const buried = yield* eventually("five dead letters", server.records("dead-letter.jsonl"), (r) => r.length === 5)
      const buriedContact = buried.find((record) => record.id === (contact.json as { id: string }).id)!
      assert.strictEqual(buriedContact.topic, "contacts.created")
      assert.strictEqual(buriedContact.app_id, (contact.json as { app_id: string }).app_id)
      answer = 200

      const replay = (filter: Partial<ReplayFilter>) => server.outbox.replay({ ...nothing, ...filter })
      assert.strictEqual(yield* replay({ since: Option.some(new Date(Date.now() + 60_000)) }), 0)
      assert.strictEqual(yield* replay({ topic: Option.some("ping") }), 1)
      assert.strictEqual(yield* replay({ topic: Option.some("contacts.created"), since: Option.some(new Date(0)) }), 2)
      assert.strictEqual(yield* replay({ topic: Option.some((closed.json as { topic: string }).topic) }), 1)
      assert.strictEqual(yield* replay({}), 0, "without a sink, a dead letter that has none stays")
      assert.strictEqual(yield* replay({ sink: Option.some("http") }), 1)
      assert.strictEqual(yield* replay({ sink: Option.some("http") }), 0, "each dead letter is replayed once")

      yield* eventually("the replayed deliveries", Effect.sync(() => target.requests.length), (n) => n === 9)
      const replayed = target.requests.slice(4)
      assert.deepStrictEqual(
        replayed.map((request) => request.headers["x-notification-id"] ?? null),
        [null, (contact.json as { id: string }).id, "notif_mismatch", (closed.json as { id: string }).id, "t1"],
        "delivered in the order they were put back"
      )
      assert.strictEqual(
        replayed.find((request) => request.headers["x-notification-id"] === "notif_mismatch")!
          .headers["x-webhook-schema"],
        "mismatch"
      )
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
    }))

  it.scopedLive("MAX_AGE: a delivery still failing when it is older becomes a dead letter with reason expired", () =>
    Effect.gen(function*() {
      const target = yield* startTarget(() => 503)
      const server = yield* startServer({
        ...(yield* store),
        SINKS: "http",
        HTTP_FORWARD_URL: target.url,
        MAX_AGE: "1500ms",
        RETRY_BASE_DELAY: "50ms",
        RETRY_MAX_DELAY: "50ms"
      })
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      const [dead] = yield* eventually("a dead letter", server.records("dead-letter.jsonl"), (r) => r.length === 1)
      assert.strictEqual(dead!.reason, "expired")
      assert.include(dead!.error as string, "MAX_AGE")
      assert.isAtLeast(target.requests.length, 1)
      assert.strictEqual(dead!.attempts, 0, "a target that is down spends no attempt of the notification")
      assert.strictEqual(yield* server.outboxDepth, 0)
    }))

  it.scopedLive("DEDUPE_WINDOW: an id is a duplicate within the window and new again after it", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ ...(yield* store), SINKS: "file", DEDUPE_WINDOW: "1s" })
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
      const server = yield* startServer({
        ...(yield* store),
        SINKS: "http",
        HTTP_FORWARD_URL: target.url,
        OUTBOX_MAX_ROWS: "1",
        ...fast
      })
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
}
