import { assert, describe, it } from "@effect/vitest"
import { DiscardPolicy, JetStreamApiCodes, JetStreamApiError, jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { covers } from "../src/sinks/NatsSink.js"
import { brokerSuite, failures, fast, type Received } from "./support/BrokerSuite.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { requireService } from "./support/Services.js"
import { startServer } from "./support/TestServer.js"

const url = new URL(process.env.NATS_TEST_URL ?? "nats://127.0.0.1:4222")
const up = await requireService("NATS", url.hostname, Number(url.port || 4222))

const manager = Effect.acquireRelease(
  Effect.promise(async () => {
    const connection = await connect({ servers: url.host })
    return { connection, streams: (await jetstreamManager(connection)).streams }
  }),
  ({ connection }) => Effect.promise(() => connection.close())
)

const notFound = (error: unknown) =>
  error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound

/** A stream and a subject prefix of its own; the sink creates the stream on its first connection. */
const destination = Effect.gen(function*() {
  const { streams } = yield* manager
  const unique = `${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`
  const stream = `TEST_${unique}`
  const prefix = `test_${unique}`
  yield* Effect.addFinalizer(() => Effect.promise(() => streams.delete(stream).catch(() => false)))

  const received = Effect.promise(async (): Promise<ReadonlyArray<Received>> => {
    const info = await streams.info(stream).catch((error) => notFound(error) ? undefined : Promise.reject(error))
    if (info === undefined) return []
    const messages: Array<Received> = []
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const message = await streams.getMessage(stream, { seq })
      if (message === null) continue
      messages.push({
        body: Buffer.from(message.data),
        route: message.subject.slice(prefix.length + 1),
        intercomTopic: message.header?.get("x-intercom-topic") || undefined,
        topic: message.header?.get("x-webhook-topic") || undefined,
        id: message.header?.get("Nats-Msg-Id") || undefined,
        notificationId: message.header?.get("x-notification-id") || undefined,
        schema: message.header?.get("x-webhook-schema") || undefined
      })
    }
    return messages
  })

  return {
    env: (port?: number) => ({
      NATS_URL: `nats://${url.hostname}:${port ?? (url.port || 4222)}`,
      NATS_STREAM: stream,
      NATS_SUBJECT_PREFIX: prefix
    }),
    received,
    refuse: Effect.promise(() => streams.add({ name: stream, subjects: [`${prefix}.>`], max_msg_size: 16 })).pipe(
      Effect.as("message size exceeds maximum allowed")
    ),
    repair: Effect.promise(() => streams.update(stream, { max_msg_size: -1 })).pipe(Effect.asVoid)
  }
})

const fixtures = loadFixtures()
const [first, second] = fixtures.filter((fixture) => fixture.topic === "contacts.created")
const idOf = (received: Received) => received.id

describe.runIf(up)("nats sink (JetStream)", () => {
  brokerSuite({ sink: "nats", host: url.hostname, port: Number(url.port || 4222), destination, duplicates: "dropped" })

  it.scopedLive("a stream that cannot store the message now (a 503 answer): unavailable, stored once it can", () =>
    Effect.gen(function*() {
      const target = yield* destination
      const { NATS_STREAM: stream, NATS_SUBJECT_PREFIX: prefix } = target.env()
      const { streams } = yield* manager
      // Full at one message, and refusing new ones rather than dropping old ones: JetStream answers 503.
      yield* Effect.promise(() =>
        streams.add({ name: stream!, subjects: [`${prefix}.>`], max_msgs: 1, discard: DiscardPolicy.New })
      )
      const server = yield* startServer({ SINKS: "nats", ...target.env(), ...fast })
      assert.strictEqual((yield* server.post(first!.bytes)).status, 200)
      yield* eventually("the first message", target.received, (all) => all.length === 1)
      assert.strictEqual((yield* server.post(second!.bytes)).status, 200)
      const [, dead] = yield* eventually(
        "attempts refused with 503, or a dead letter",
        Effect.all([failures(server, "nats"), server.records("dead-letter.jsonl")]),
        ([attempts, dead]) => attempts >= 2 || dead.length > 0
      )
      assert.deepStrictEqual(dead, [])
      assert.strictEqual(yield* server.outboxDepth, 1, "still waiting in the outbox")

      yield* Effect.promise(() => streams.update(stream!, { max_msgs: -1 }))
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), [])
      const received = yield* target.received
      assert.deepStrictEqual(received.map(idOf), [first, second].map((fixture) => (fixture!.json as { id: string }).id))
      assert.isTrue(received[1]!.body.equals(second!.bytes))
    }))

  it.scopedLive("the stream deleted under a connected sink (no responders): unavailable, created again, delivered", () =>
    Effect.gen(function*() {
      const target = yield* destination
      const { streams } = yield* manager
      const server = yield* startServer({ SINKS: "nats", ...target.env(), ...fast })
      assert.strictEqual((yield* server.post(first!.bytes)).status, 200)
      yield* eventually("the first message", target.received, (all) => all.length === 1)
      yield* Effect.promise(() => streams.delete(target.env().NATS_STREAM!))
      const before = yield* failures(server, "nats")
      assert.strictEqual((yield* server.post(second!.bytes)).status, 200)
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), [])
      assert.isAbove(yield* failures(server, "nats"), before, "counted as unavailable")
      const received = yield* target.received
      assert.strictEqual(received.length, 1, "the new stream holds the second message")
      assert.isTrue(received[0]!.body.equals(second!.bytes))
    }))

  it.scopedLive("a stream that exists with other subjects: the start says so, naming them; delivered once fixed", () =>
    Effect.gen(function*() {
      const target = yield* destination
      const { NATS_STREAM: stream, NATS_SUBJECT_PREFIX: prefix } = target.env()
      const { streams } = yield* manager
      yield* Effect.promise(() => streams.add({ name: stream!, subjects: [`other_${prefix}.>`] }))
      const server = yield* startServer({ SINKS: "nats", ...target.env(), ...fast })
      const logged = yield* eventually(
        "the start's warning",
        Effect.sync(() => server.logs.find((line) => line.includes("exists with the subjects"))),
        (line) => line !== undefined
      )
      assert.include(logged, `the stream ${stream} exists with the subjects other_${prefix}.>, none of which takes`)
      assert.strictEqual((yield* server.post(first!.bytes)).status, 200)
      yield* eventually("a failed attempt", failures(server, "nats"), (n) => n >= 1)
      assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), [], "nothing set aside for a setting")
      assert.strictEqual(yield* server.outboxDepth, 1)

      yield* Effect.promise(() => streams.update(stream!, { subjects: [`other_${prefix}.>`, `${prefix}.>`] }))
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      assert.isTrue((yield* target.received)[0]!.body.equals(first!.bytes))
    }))

  it("which stream subjects take every subject under a prefix", () => {
    assert.isTrue(covers("intercom.>", "intercom"))
    assert.isTrue(covers(">", "intercom"))
    assert.isTrue(covers("*.>", "intercom"))
    assert.isTrue(covers("a.*.>", "a.b"))
    assert.isTrue(covers("a.b.>", "a.b"))
    assert.isFalse(covers("intercom.*", "intercom"), "one token only")
    assert.isFalse(covers("intercom.contacts.>", "intercom"))
    assert.isFalse(covers("other.>", "intercom"))
    assert.isFalse(covers("intercom", "intercom"))
    assert.isTrue(covers("a.>", "a.b.c"), "a.> takes a.b.c.<...>")
  })
})
