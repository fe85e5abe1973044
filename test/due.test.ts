import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Logger, LogLevel, Option, type Scope } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { StoreSettings } from "../src/config/ReceiverConfig.js"
import { Outbox } from "../src/store/Outbox.js"
import * as Store from "../src/store/Store.js"
import { databaseUrl, freshDatabase, pgHost, pgPort } from "./support/Postgres.js"
import { requireService } from "./support/Services.js"
import { storeSettings } from "./support/StoreSettings.js"

const up = await requireService("PostgreSQL", pgHost, pgPort)

const settings = (storeUrl: Option.Option<string>, storePath: string): StoreSettings =>
  storeSettings(Option.match(storeUrl, { onNone: () => ({ dir: "unused" }), onSome: (url) => ({ url }) }), {
    storePath,
    storeBusyTimeoutMs: 1000,
    storeStatementTimeout: Duration.seconds(2),
    outboxMaxRows: 1000
  })

const sqlite = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "due-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => settings(Option.none(), join(dir, "receiver.db"))))

const postgres = Effect.map(freshDatabase, (name) => settings(Option.some(databaseUrl(name)), "unused"))

const open = (config: Effect.Effect<StoreSettings, never, Scope.Scope>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      Store.layerWith(yield* config, "service").pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.None)))
    )
    return Context.get(context, Outbox)
  })

/** Queues one delivery for `http` of a notification with this key; returns its seq. */
const queue = (outbox: Outbox["Type"], key: string, id: string) =>
  Effect.gen(function*() {
    const body = Buffer.from(JSON.stringify({ type: "notification_event", topic: "ping", id, data: { item: {} } }))
    const before = new Set((yield* outbox.due("http", { now: Date.now() + 1, limit: 100, order: "receive", busy: [] }))
      .map((entry) => entry.seq))
    const notification = {
      receivedAt: new Date(),
      topic: null,
      intercomTopic: "ping",
      id,
      appId: null,
      body,
      deliveryKey: key,
      schemaMismatch: undefined
    }
    assert.strictEqual(yield* outbox.accept(notification, ["http"]), "accepted")
    const after = yield* outbox.due("http", { now: Date.now() + 1, limit: 100, order: "receive", busy: [] })
    return after.find((entry) => !before.has(entry.seq))!.seq
  })

const dueSuite = (config: Effect.Effect<StoreSettings, never, Scope.Scope>) => {
  it.scopedLive("by key: each key's deliveries up to its first waiting one, busy keys left out, oldest first", () =>
    Effect.gen(function*() {
      const outbox = yield* open(config)
      const a1 = yield* queue(outbox, "conversation:a", "n1")
      const b1 = yield* queue(outbox, "conversation:b", "n2")
      const a2 = yield* queue(outbox, "conversation:a", "n3")
      const c1 = yield* queue(outbox, "contact:c", "n4")
      const b2 = yield* queue(outbox, "conversation:b", "n5")
      const now = Date.now() + 1
      const due = (busy: ReadonlyArray<string>, limit = 100, at = now) =>
        Effect.map(outbox.due("http", { now: at, limit, order: "key", busy }), (found) => found.map((e) => e.seq))

      assert.deepStrictEqual(yield* due([]), [a1, b1, a2, c1, b2])
      assert.deepStrictEqual(yield* due([], 2), [a1, b1])
      assert.deepStrictEqual(yield* due(["conversation:a"]), [b1, c1, b2])
      assert.deepStrictEqual(yield* due(["conversation:a", "conversation:b", "contact:c"]), [])

      // a1 waits for its retry: a2 waits behind it, the other keys do not.
      yield* outbox.retryLater(a1, 1, now + 60_000, "failed")
      assert.deepStrictEqual(yield* due([]), [b1, c1, b2])
      assert.deepStrictEqual(yield* outbox.nextDue("http", now), Option.some(now + 60_000))
      assert.deepStrictEqual(yield* due([], 100, now + 60_000), [a1, b1, a2, c1, b2])

      // b2 waits (b1 was delivered): only b's queue from b2 on is held.
      yield* outbox.delivered("http", [b1])
      yield* outbox.retryLater(b2, 1, now + 30_000, "failed")
      assert.deepStrictEqual(yield* due([]), [c1])
      assert.deepStrictEqual(yield* outbox.nextDue("http", now), Option.some(now + 30_000))
      assert.deepStrictEqual(yield* due([], 100, now + 30_000), [c1, b2])
    }))

  it.scopedLive("in receive order: from the oldest up to the first waiting delivery, whatever the keys", () =>
    Effect.gen(function*() {
      const outbox = yield* open(config)
      const first = yield* queue(outbox, "conversation:a", "r1")
      const second = yield* queue(outbox, "conversation:b", "r2")
      const third = yield* queue(outbox, "conversation:c", "r3")
      const now = Date.now() + 1
      const due = (at: number, limit = 100) =>
        Effect.map(
          outbox.due("http", { now: at, limit, order: "receive", busy: [] }),
          (found) => found.map((e) => e.seq)
        )
      assert.deepStrictEqual(yield* due(now), [first, second, third])
      assert.deepStrictEqual(yield* due(now, 2), [first, second])
      yield* outbox.retryLater(second, 1, now + 5000, "failed")
      assert.deepStrictEqual(yield* due(now), [first])
      yield* outbox.retryLater(first, 1, now + 9000, "failed")
      assert.deepStrictEqual(yield* due(now), [], "nothing overtakes the waiting head")
      assert.deepStrictEqual(yield* outbox.nextDue("http", now), Option.some(now + 5000))
      assert.deepStrictEqual(yield* due(now + 9000), [first, second, third])
    }))

  it.scopedLive("dead letters still waiting are counted by sink and reason; replayed ones are not", () =>
    Effect.gen(function*() {
      const outbox = yield* open(config)
      const counts = Effect.map(
        outbox.deadLetterCounts,
        (found) =>
          found.map((row) => ({ ...row, count: Number(row.count) })).sort((a, b) =>
            `${a.sink}/${a.reason}`.localeCompare(`${b.sink}/${b.reason}`)
          )
      )
      assert.deepStrictEqual(yield* counts, [])
      for (const [id, reason] of [["d1", "rejected"], ["d2", "rejected"], ["d3", "exhausted"]] as const) {
        const seq = yield* queue(outbox, `conversation:${id}`, id)
        const entry = (yield* outbox.due("http", { now: Date.now() + 1, limit: 100, order: "receive", busy: [] }))
          .find((found) => found.seq === seq)!
        yield* outbox.bury(entry, reason, "answered 400", 1)
      }
      const body = Buffer.from(
        JSON.stringify({ type: "notification_event", topic: "x.y", id: "d4", data: { item: {} } })
      )
      yield* outbox.addDeadLetter(
        {
          receivedAt: new Date(),
          topic: null,
          intercomTopic: "x.y",
          id: "d4",
          appId: null,
          body,
          deliveryKey: "d4",
          schemaMismatch: undefined
        },
        "no_route",
        "no route"
      )
      assert.deepStrictEqual(yield* counts, [
        { sink: "http", reason: "exhausted", count: 1 },
        { sink: "http", reason: "rejected", count: 2 },
        { sink: null, reason: "no_route", count: 1 }
      ])
      const waiting = yield* outbox.deadLetters({ sink: Option.none(), topic: Option.none(), since: Option.none() }, 10)
      const [first, second] = waiting.filter((letter) => letter.reason === "rejected").map((letter) => letter.id)
      const everything = { sink: Option.none(), topic: Option.none(), since: Option.none() }
      assert.strictEqual(yield* outbox.discard({ ...everything, ids: [first!] }), 1, "one chosen by id")
      assert.strictEqual(yield* outbox.replay({ ...everything, ids: [second!] }), 1, "one chosen by id")
      assert.deepStrictEqual(yield* counts, [
        { sink: "http", reason: "exhausted", count: 1 },
        { sink: null, reason: "no_route", count: 1 }
      ])
      assert.strictEqual(yield* outbox.discard({ ...everything, ids: [first!, second!] }), 0, "neither waits now")
      assert.strictEqual(yield* outbox.discard(everything), 2, "without a sink, those without one too")
      assert.deepStrictEqual(yield* counts, [])
    }))
}

describe("which deliveries are due (SQLite)", () => dueSuite(sqlite))
describe.runIf(up)("which deliveries are due (PostgreSQL)", () => dueSuite(postgres))
