import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Fiber, Layer, Logger, LogLevel, Redacted, type Scope } from "effect"
import type { StoreSettings } from "../src/config/ReceiverConfig.js"
import { BUCKETS, type DeliveryShare } from "../src/store/DeliveryShare.js"
import { Outbox } from "../src/store/Outbox.js"
import * as Lease from "../src/store/Postgres/Lease.js"
import { migrations } from "../src/store/Postgres/Migrations.js"
import * as PostgresOutbox from "../src/store/PostgresOutbox.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { outboxSuite } from "./support/OutboxSuite.js"
import { databaseUrl, freshDatabase, pgHost, pgPort, queryDatabase } from "./support/Postgres.js"
import { requireService } from "./support/Services.js"
import { storeSettings } from "./support/StoreSettings.js"
import { startTarget } from "./support/Target.js"
import { startTcpProxy } from "./support/TcpProxy.js"
import { startServer } from "./support/TestServer.js"

const up = await requireService("PostgreSQL", pgHost, pgPort)

const fixtures = loadFixtures()
const template = fixtures.find((fixture) => fixture.topic === "conversations.closed")!.json as object
const notification = (id: string) => Buffer.from(JSON.stringify({ ...template, id }))

const settings = (url: string): StoreSettings =>
  storeSettings({ url }, {
    storeBusyTimeoutMs: 0,
    storePoolSize: 4,
    storeStatementTimeout: Duration.seconds(2),
    outboxMaxRows: 1000
  })

/** The store on `url`, open until `scope` closes. */
const openStore = (url: string, scope: Scope.Scope) =>
  Layer.buildWithScope(
    PostgresOutbox.layerWith(settings(url), Redacted.make(new URL(url))).pipe(
      Layer.provide(Logger.minimumLogLevel(LogLevel.None))
    ),
    scope
  ).pipe(
    Effect.map((context) => Context.get(context, Outbox))
  )

describe.runIf(up)("the outbox (PostgreSQL)", () => {
  outboxSuite(Effect.map(freshDatabase, (name) => ({ STORE_URL: databaseUrl(name) })))

  it.scopedLive("a delivery waiting for its retry holds back the ones behind it: the target sees them in order", () =>
    Effect.gen(function*() {
      const target = yield* startTarget((n) => n <= 3 ? 503 : 200)
      const server = yield* startServer({
        STORE_URL: databaseUrl(yield* freshDatabase),
        SINKS: "http",
        HTTP_FORWARD_URL: target.url,
        RETRY_BASE_DELAY: "200ms",
        RETRY_MAX_DELAY: "300ms"
      })
      const ids = ["order-1", "order-2", "order-3", "order-4"]
      for (const id of ids) assert.strictEqual((yield* server.post(notification(id))).status, 200)
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0, 20_000)
      const seen = target.requests.map((request) => request.headers["x-notification-id"])
      assert.deepStrictEqual(seen, ["order-1", "order-1", "order-1", ...ids])
    }))

  it.scopedLive("two instances accepting the same ids at once in opposite orders: each once, no deadlock", () =>
    Effect.gen(function*() {
      const url = databaseUrl(yield* freshDatabase)
      const scope = yield* Effect.scope
      const [one, other] = yield* Effect.all([openStore(url, scope), openStore(url, scope)])
      const ids = Array.from({ length: 300 }, (_, index) => `overlap-${index}`)
      const accept = (outbox: Outbox["Type"], id: string) =>
        outbox.accept({
          receivedAt: new Date(),
          topic: null,
          intercomTopic: "ping",
          id,
          appId: null,
          body: notification(id),
          deliveryKey: `notification:${id}`,
          schemaMismatch: undefined
        }, ["http"])
      // A lock on the table holds both stores' statements back, then lets them run at the same moment.
      const pg = yield* Effect.promise(() => import("pg"))
      const locker = new pg.default.Client({ connectionString: url })
      yield* Effect.promise(() => locker.connect().then(() => locker.query("BEGIN; LOCK TABLE seen IN SHARE MODE")))
      const both = yield* Effect.fork(Effect.all([
        Effect.all(ids.map((id) => accept(one, id)), { concurrency: "unbounded" }),
        Effect.all([...ids].reverse().map((id) => accept(other, id)), { concurrency: "unbounded" })
      ], { concurrency: 2 }))
      yield* Effect.sleep(Duration.millis(500))
      yield* Effect.promise(() => locker.query("ROLLBACK").then(() => locker.end()))
      const [forward, backward] = yield* Fiber.join(both)
      const outcomes = ids.map((_, index) => [forward[index], backward[ids.length - 1 - index]].sort())
      for (const outcome of outcomes) assert.deepStrictEqual(outcome, ["accepted", "duplicate"])
      assert.strictEqual((yield* one.depth).count, ids.length)
    }))

  it.scopedLive("a statement held up past STORE_STATEMENT_TIMEOUT answers 503, never 2xx", () =>
    Effect.gen(function*() {
      const name = yield* freshDatabase
      const server = yield* startServer({ STORE_URL: databaseUrl(name), STORE_STATEMENT_TIMEOUT: "300ms" })
      assert.strictEqual((yield* server.post(notification("lock-1"))).status, 200)
      const pg = yield* Effect.promise(() => import("pg"))
      const locker = new pg.default.Client({ connectionString: databaseUrl(name) })
      yield* Effect.promise(() => locker.connect())
      yield* Effect.promise(() => locker.query("BEGIN; LOCK TABLE seen IN ACCESS EXCLUSIVE MODE"))
      const locked = yield* server.post(notification("lock-2"))
      yield* Effect.promise(() => locker.query("ROLLBACK").then(() => locker.end()))
      assert.strictEqual(locked.status, 503)
      assert.strictEqual(locked.json.error, "storage_unavailable")
      assert.strictEqual(locked.headers.get("retry-after"), "60")
      assert.strictEqual((yield* server.post(notification("lock-2"))).json.status, "accepted")
    }))

  it.scopedLive("two instances starting at the same moment migrate the database once", () =>
    Effect.gen(function*() {
      const url = databaseUrl(yield* freshDatabase)
      const scope = yield* Effect.scope
      yield* Effect.all([openStore(url, scope), openStore(url, scope), openStore(url, scope)], {
        concurrency: "unbounded"
      })
      const applied = yield* queryDatabase<{ id: number }>(
        url.split("/").pop()!,
        "SELECT id FROM receiver_migrations ORDER BY id"
      )
      assert.deepStrictEqual(applied.map((row) => row.id), migrations.map((migration) => migration.id))
    }))

  it.scopedLive("the password of STORE_URL is in no error", () =>
    Effect.gen(function*() {
      const url = "postgres://postgres:hunter2-secret@127.0.0.1:9/nowhere"
      const exit = yield* Effect.exit(Effect.scoped(openStore(url, yield* Effect.scope)))
      assert.isTrue(Exit.isFailure(exit))
      const text = JSON.stringify(exit)
      assert.notInclude(text, "hunter2-secret")
      assert.include(text, "postgres://postgres:***@127.0.0.1:9/nowhere")
    }))

  it.scopedLive(
    "in receive order, a lease holder cut off from the database stops before another instance takes the sink over, " +
      "within 15 s",
    () =>
      Effect.gen(function*() {
        const name = yield* freshDatabase
        const proxy = yield* startTcpProxy(pgHost, pgPort)
        const cutOff = yield* openStore(databaseUrl(name, "127.0.0.1", proxy.port), yield* Effect.scope)
        const other = yield* openStore(databaseUrl(name), yield* Effect.scope)
        const events: Array<{ readonly who: string; readonly what: "start" | "stop"; readonly at: number }> = []
        const record = (who: string, what: "start" | "stop") =>
          Effect.sync(() => events.push({ who, what, at: performance.now() }))
        const work = (who: string) =>
          Effect.zipRight(record(who, "start"), Effect.onInterrupt(Effect.never, () => record(who, "stop")))
        yield* Effect.forkScoped(cutOff.deliveries("http", "receive", () => work("cut-off")))
        yield* eventually("the first instance to hold the sink", Effect.sync(() => events.length), (n) => n === 1)
        yield* Effect.forkScoped(other.deliveries("http", "receive", () => work("other")))
        yield* Effect.sleep(Duration.times(Lease.RENEW_EVERY, 2))
        assert.deepStrictEqual(events.map((event) => event.who), ["cut-off"], "one holder at a time")

        proxy.cut()
        const cutAt = performance.now()
        yield* eventually(
          "the other instance to take the sink over",
          Effect.sync(() => events.find((event) => event.who === "other")),
          (event) => event !== undefined,
          Duration.seconds(15)
        )
        const stopped = events.find((event) => event.who === "cut-off" && event.what === "stop")
        const started = events.find((event) => event.who === "other" && event.what === "start")!
        assert.isDefined(stopped, "the cut-off holder stopped")
        assert.isBelow(stopped!.at, started.at, "it stopped before the other started")
        assert.isBelow(started.at - cutAt, 15_000)
      }),
    30_000
  )

  it.scopedLive(
    "by key, instances share the buckets fairly; one cut off stops delivering its buckets before the other takes them",
    () =>
      Effect.gen(function*() {
        const name = yield* freshDatabase
        const proxy = yield* startTcpProxy(pgHost, pgPort)
        const cutOff = yield* openStore(databaseUrl(name, "127.0.0.1", proxy.port), yield* Effect.scope)
        const other = yield* openStore(databaseUrl(name), yield* Effect.scope)
        const shares: Record<string, DeliveryShare | undefined> = {}
        const stops: Array<{ readonly who: string; readonly at: number; readonly held: ReadonlyArray<number> }> = []
        const work = (who: string) => (share: DeliveryShare) =>
          Effect.sync(() => (shares[who] = share)).pipe(
            Effect.zipRight(Effect.never),
            Effect.onInterrupt(() =>
              Effect.sync(() => stops.push({ who, at: performance.now(), held: share.buckets ?? [] }))
            )
          )
        const held = (who: string) => Effect.sync(() => [...(shares[who]?.buckets ?? [])].sort((a, b) => a - b))
        const all = Array.from({ length: BUCKETS }, (_, bucket) => bucket)

        yield* Effect.forkScoped(cutOff.deliveries("http", "key", work("cut-off")))
        assert.deepStrictEqual(yield* eventually("every bucket", held("cut-off"), (b) => b.length === BUCKETS), all)

        yield* Effect.forkScoped(other.deliveries("http", "key", work("other")))
        yield* eventually("a fair share each", held("other"), (b) => b.length === BUCKETS / 2, Duration.seconds(10))
        const [mine, theirs] = [yield* held("cut-off"), yield* held("other")]
        assert.strictEqual(mine.length, BUCKETS / 2)
        assert.deepStrictEqual([...mine, ...theirs].sort((a, b) => a - b), all, "no bucket held twice, none left out")

        proxy.cut()
        const cutAt = performance.now()
        yield* eventually("the other to take every bucket", held("other"), (b) =>
          b.length === BUCKETS, Duration.seconds(20))
        const tookAll = performance.now()
        const stopped = stops.find((stop) =>
          stop.who === "cut-off"
        )
        assert.isDefined(stopped, "the cut-off instance stopped delivering")
        assert.isBelow(stopped!.at, tookAll, "it stopped before the other took its buckets")
        assert.isBelow(tookAll - cutAt, 16_000)
      }),
    40_000
  )
})
