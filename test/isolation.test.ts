import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Either, Layer, Logger, LogLevel, type Scope } from "effect"
import type { StoreSettings } from "../src/config/ReceiverConfig.js"
import type { NotificationBytes } from "../src/pipeline/Notification.js"
import { Outbox } from "../src/store/Outbox.js"
import * as Store from "../src/store/Store.js"
import { eventually } from "./support/Eventually.js"
import { databaseUrl, freshDatabase, pgHost, pgPort } from "./support/Postgres.js"
import { requireService } from "./support/Services.js"
import { storeSettings } from "./support/StoreSettings.js"
import { startTarget } from "./support/Target.js"
import { startServer } from "./support/TestServer.js"

const up = await requireService("PostgreSQL", pgHost, pgPort)

/** A notification's JSON text with `raw` written in as the value of `field` (so that escapes reach the body as such). */
const withRaw = (field: "id" | "topic" | "app_id" | "item id", raw: string, n: number) => {
  const fields: Record<string, string> = {
    type: `"notification_event"`,
    topic: `"conversation.admin.closed"`,
    id: `"notif_hostile_${n}"`,
    app_id: `"app1"`,
    "item id": `"conv_${n}"`
  }
  fields[field] = raw
  return `{"type":${fields.type},"topic":${fields.topic},"id":${fields.id},"app_id":${fields.app_id},` +
    `"created_at":1767225600,"data":{"type":"notification_event_data","item":{"type":"conversation",` +
    `"id":${fields["item id"]}}}}`
}

const clean = (n: number, round: number) => withRaw("id", `"notif_clean_${round}_${n}"`, n)

/**
 * What each hostile value gets: 400 when it is in the envelope (no store keeps such text), 200 when only the
 * delivery key comes from it (the key is then a hash) or when it is a number a double cannot hold.
 */
const hostile: ReadonlyArray<{ readonly name: string; readonly body: string; readonly status: number }> = [
  { name: "NUL in the id", body: withRaw("id", `"notif\\u0000nul"`, 1), status: 400 },
  { name: "NUL in the topic", body: withRaw("topic", `"conversation.admin.closed\\u0000"`, 2), status: 400 },
  { name: "NUL in app_id", body: withRaw("app_id", `"app\\u0000"`, 3), status: 400 },
  { name: "unpaired surrogate in the id", body: withRaw("id", `"notif\\ud800"`, 4), status: 400 },
  { name: "NUL in the item id (the delivery key)", body: withRaw("item id", `"conv\\u0000"`, 5), status: 200 },
  { name: "surrogate in the item id", body: withRaw("item id", `"conv\\udfff"`, 6), status: 200 },
  { name: "a 10,000-character item id", body: withRaw("item id", JSON.stringify("c".repeat(10_000)), 7), status: 200 },
  { name: "a number id past 2^53", body: withRaw("id", "12345678901234567890123", 8), status: 200 },
  { name: "a 200-character id of emoji", body: withRaw("id", JSON.stringify("😀".repeat(100)), 9), status: 200 }
]

const isolationSuite = (store: Effect.Effect<Record<string, string>, never, Scope.Scope>) => {
  it.scopedLive(
    "one hostile notification among 30 clean ones at the same moment: only it is refused",
    () =>
      Effect.gen(function*() {
        const target = yield* startTarget()
        const server = yield* startServer({ ...(yield* store), SINKS: "file,http", HTTP_FORWARD_URL: target.url })
        let sent = 0
        for (const [round, value] of hostile.entries()) {
          const bodies = [...Array.from({ length: 15 }, (_, n) => clean(n, round)), value.body]
          bodies.push(...Array.from({ length: 15 }, (_, n) => clean(n + 15, round)))
          const answers = yield* Effect.forEach(bodies, (body) => server.post(body), { concurrency: "unbounded" })
          const statuses = answers.map((answer) => answer.status)
          assert.strictEqual(statuses[15], value.status, `${value.name}: ${answers[15]!.text}`)
          statuses.splice(15, 1)
          assert.deepStrictEqual(statuses, Array(30).fill(200), `${value.name}: the clean ones`)
          if (value.status === 400) assert.include(answers[15]!.json.message, "holds a NUL character or an unpaired")
          sent += value.status === 200 ? 31 : 30
        }
        yield* eventually(
          "every accepted notification delivered",
          Effect.sync(() => target.requests.length),
          (n) => n >= sent,
          Duration.seconds(20)
        )
        yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
        assert.strictEqual(target.requests.length, sent)
        assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), [])
      }),
    60_000
  )
}

describe("one notification never fails its neighbours (SQLite)", () => isolationSuite(Effect.succeed({})))
describe.runIf(up)("one notification never fails its neighbours (PostgreSQL)", () => {
  isolationSuite(Effect.map(freshDatabase, (name) => ({ STORE_URL: databaseUrl(name) })))

  const settings = (url: string): StoreSettings =>
    storeSettings({ url }, { storeBusyTimeoutMs: 0, storeStatementTimeout: Duration.seconds(2) })

  it.scopedLive("values PostgreSQL refuses in one accept of a shared commit fail that accept alone (400)", () =>
    Effect.gen(function*() {
      const url = databaseUrl(yield* freshDatabase)
      const context = yield* Layer.build(
        Store.layerWith(settings(url), "service").pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.None)))
      )
      const outbox = Context.get(context, Outbox)
      const notification = (id: string, topic = "ping"): NotificationBytes => ({
        receivedAt: new Date(),
        topic: null,
        intercomTopic: topic,
        id,
        appId: null,
        body: Buffer.from("{}"),
        deliveryKey: `notification:${id}`,
        schemaMismatch: undefined
      })
      // The decoder refuses these; the store is checked on its own: a value past the decoder must fail only its own.
      const accepts = [
        ...Array.from({ length: 20 }, (_, n) => notification(`clean-${n}`)),
        notification("bad-topic", "ping\u0000"),
        ...Array.from({ length: 20 }, (_, n) => notification(`clean-${n + 20}`))
      ]
      const outcomes = yield* Effect.forEach(accepts, (one) => Effect.either(outbox.accept(one, ["http"])), {
        concurrency: "unbounded"
      })
      const refused = outcomes[20]!
      assert.isTrue(Either.isLeft(refused) && refused.left._tag === "StoreRefused", JSON.stringify(refused))
      outcomes.splice(20, 1)
      assert.deepStrictEqual(outcomes.map((one) => Either.getOrNull(one)), Array(40).fill("accepted"))
      assert.strictEqual((yield* outbox.depth).count, 40)
    }))
})
