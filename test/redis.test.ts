import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { randomBytes } from "node:crypto"
import { brokerSuite, failures, fast, type Received } from "./support/BrokerSuite.js"
import { eventually } from "./support/Eventually.js"
import { startFakeRedis } from "./support/FakeRedis.js"
import { loadFixtures } from "./support/Fixtures.js"
import { requireService } from "./support/Services.js"
import { startServer } from "./support/TestServer.js"

const url = new URL(process.env.REDIS_TEST_URL ?? "redis://127.0.0.1:6379")
const up = await requireService("Redis", url.hostname, Number(url.port || 6379))

/** A stream key of its own, deleted when the test ends. */
const destination = Effect.gen(function*() {
  const key = `test:intercom:${Date.now().toString(36)}:${randomBytes(4).toString("hex")}`
  const client = yield* Effect.acquireRelease(
    Effect.sync(() => new Redis(url.toString())),
    (client) => Effect.promise(() => client.del(key).then(() => client.quit()))
  )
  const received = Effect.promise(async (): Promise<ReadonlyArray<Received>> => {
    if ((await client.type(key)) !== "stream") return []
    return (await client.xrangeBuffer(key, "-", "+")).map(([, flat]) => {
      const fields = new Map<string, Buffer>()
      for (let i = 0; i < flat.length; i += 2) fields.set(flat[i]!.toString(), flat[i + 1]!)
      return {
        body: fields.get("body")!,
        route: undefined,
        intercomTopic: fields.get("intercom_topic")?.toString(),
        topic: fields.get("topic")?.toString(),
        id: fields.get("id")?.toString(),
        notificationId: fields.get("id")?.toString(),
        schema: fields.get("schema")?.toString()
      }
    })
  })
  return {
    env: (port?: number) => ({
      REDIS_URL: `redis://${url.hostname}:${port ?? (url.port || 6379)}`,
      REDIS_STREAM: key
    }),
    received,
    refuse: Effect.promise(() => client.set(key, "not a stream")).pipe(Effect.as("WRONGTYPE")),
    repair: Effect.promise(() => client.del(key)).pipe(Effect.asVoid)
  }
})

describe.runIf(up)("redis sink (streams)", () => {
  brokerSuite({ sink: "redis", host: url.hostname, port: Number(url.port || 6379), destination, duplicates: "kept" })

  it.scopedLive("REDIS_MAXLEN trims the stream to about that many entries, the newest kept", () =>
    Effect.gen(function*() {
      const target = yield* destination
      const server = yield* startServer({ SINKS: "redis", ...target.env(), REDIS_MAXLEN: "10" })
      const ping = loadFixtures().find((fixture) => fixture.topic === "ping")!.json as object
      const sent = Array.from({ length: 300 }, (_, n) => JSON.stringify({ ...ping, data: { item: { n } } }))
      yield* Effect.forEach(sent, (body) => server.post(body), { discard: true })
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      const kept = yield* target.received
      // `MAXLEN ~` trims whole radix-tree nodes (100 entries by default), so more than 10 stay, never all 300.
      assert.isAtLeast(kept.length, 10)
      assert.isBelow(kept.length, 300)
      assert.strictEqual(JSON.parse(kept.at(-1)!.body.toString("utf8")).data.item.n, 299)
    }))
})

describe("redis sink against a server that cannot take writes yet", () => {
  const replies = [
    "LOADING Redis is loading the dataset in memory",
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT."
  ]
  for (const reply of replies) {
    it.scopedLive(`-${reply.split(" ")[0]} once: unavailable, then added when the server takes it, no dead letter`, () =>
      Effect.gen(function*() {
        const fake = yield* startFakeRedis([reply])
        const server = yield* startServer({
          SINKS: "redis",
          REDIS_URL: `redis://127.0.0.1:${fake.port}`,
          REDIS_STREAM: `test:intercom:fake:${randomBytes(4).toString("hex")}`,
          ...fast
        })
        const sent = loadFixtures().find((fixture) => fixture.topic === "contacts.created")!.bytes
        assert.strictEqual((yield* server.post(sent)).status, 200)
        yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
        assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), [])
        assert.strictEqual(fake.pending(), 0, `answered -${reply}`)
        assert.strictEqual(yield* failures(server, "redis"), 1, "counted as unavailable")
        assert.strictEqual(fake.added.length, 1)
        const fields = fake.added[0]!
        assert.isTrue(fields[fields.findIndex((field) => field.toString() === "body") + 1]!.equals(sent))
      }))
  }
})
