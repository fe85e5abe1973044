import { assert, it } from "@effect/vitest"
import { Effect, Option, type Scope } from "effect"
import { eventually } from "./Eventually.js"
import { loadFixtures } from "./Fixtures.js"
import { hostile, notification } from "./HostileValues.js"
import { startTcpProxy } from "./TcpProxy.js"
import { startServer, type TestServerShape } from "./TestServer.js"

/** A message as a consumer of the broker read it back. */
export interface Received {
  readonly body: Buffer
  /** The subject without its prefix (NATS) or the routing key (RabbitMQ); Redis has none. */
  readonly route: string | undefined
  readonly intercomTopic: string | undefined
  readonly topic: string | undefined
  /** `Nats-Msg-Id`, `message_id` or the `id` field. */
  readonly id: string | undefined
  /** The `x-notification-id` header, or the `id` field. */
  readonly notificationId: string | undefined
  readonly schema: string | undefined
}

/** A stream, or an exchange and a queue, of one test's own, with a unique name. */
export interface Destination {
  /** The sink's settings for it, reaching the broker through `port` when given. */
  readonly env: (port?: number) => Record<string, string>
  /** Every message on it so far, oldest first. */
  readonly received: Effect.Effect<ReadonlyArray<Received>>
  /** Makes every publish to it refused for good; yields a part of the broker's error. */
  readonly refuse: Effect.Effect<string>
  /** Undoes `refuse`. */
  readonly repair: Effect.Effect<void>
}

export interface BrokerUnderTest {
  readonly sink: "nats" | "rabbitmq" | "redis"
  readonly host: string
  readonly port: number
  /** Created for one test; removed when its scope closes, whatever the outcome. */
  readonly destination: Effect.Effect<Destination, never, Scope.Scope>
  /** What the broker keeps of one notification published twice: NATS drops the copy (`Nats-Msg-Id`). */
  readonly duplicates: "dropped" | "kept"
}

const fixtures = loadFixtures()
const fixture = (topic: string) => fixtures.find((candidate) => candidate.topic === topic)!
/** 2.6 KB compact, a typical size: more than the 2 KB below which amqplib writes a message in one piece. */
const template = fixtures.find((candidate) => candidate.file === "conversation-admin-closed.json")!.json as object
/** A notification of its own id, each one different. */
const numbered = (n: number) => Buffer.from(JSON.stringify({ ...template, id: `notif_broker_${n}` }))
/** Short retry and probe intervals, for tests that make a sink fail. */
export const fast = { RETRY_BASE_DELAY: "20ms", RETRY_MAX_DELAY: "200ms", PROBE_INTERVAL: "200ms" }
const idOf = (bytes: Buffer) => (JSON.parse(bytes.toString("utf8")).id as string | null) ?? undefined

/** `intercom_webhook_sink_failures_total{sink,kind="unavailable"}` as the server's `/metrics` shows it. */
export const failures = (server: TestServerShape, sink: string) =>
  Effect.map(server.request("/metrics"), (answer) => {
    const line = answer.text.split("\n").find((candidate) =>
      candidate.startsWith(`intercom_webhook_sink_failures_total{sink="${sink}",kind="unavailable"}`)
    )
    return line === undefined ? 0 : Number(line.split(" ").pop())
  })

const postAll = (server: TestServerShape, bodies: ReadonlyArray<Buffer>) =>
  Effect.forEach(
    bodies,
    (body) => Effect.map(server.post(body), (answer) => assert.strictEqual(answer.status, 200, answer.text)),
    { discard: true }
  )

const ids = (received: ReadonlyArray<Received>) => received.map((message) => message.id)

/** The broker sink's behaviour through a real receiver and a real broker, read back by a real consumer. */
export const brokerSuite = (broker: BrokerUnderTest) => {
  const { sink } = broker

  it.scopedLive("every notification arrives with its exact bytes, its topic and id, in receive order (strict)", () =>
    Effect.gen(function*() {
      const destination = yield* broker.destination
      // The notifications are about different objects: only strict receive order puts them in the order sent.
      const server = yield* startServer({ SINKS: sink, DELIVERY_ORDER: "receive", ...destination.env() })
      const unknownTopic = Buffer.from(JSON.stringify({
        type: "notification_event",
        topic: "ticket.state updated.>",
        id: "notif_ticket_1",
        data: { item: { type: "ticket", id: "7" } }
      }))
      const mismatch = Buffer.from(JSON.stringify({
        type: "notification_event",
        topic: "contact.user.created",
        id: "notif_mismatch_1",
        data: { item: { type: "contact", id: 12345 } }
      }))
      const sent = [
        ...fixtures.map((candidate) => ({ bytes: candidate.bytes, topic: candidate.topic, route: candidate.topic })),
        { bytes: unknownTopic, topic: undefined, route: "ticket.state_updated._" },
        { bytes: mismatch, topic: "contacts.created", route: "contacts.created" }
      ]
      yield* postAll(server, sent.map(({ bytes }) => bytes))
      const received = yield* eventually("every message", destination.received, (all) => all.length >= sent.length)
      assert.strictEqual(received.length, sent.length)
      for (const [index, message] of received.entries()) {
        const expected = sent[index]!
        const json = JSON.parse(expected.bytes.toString("utf8"))
        assert.isTrue(message.body.equals(expected.bytes), `message ${index}: the bytes posted`)
        // A space is percent-encoded in a header; Redis fields are binary-safe.
        assert.strictEqual(
          message.intercomTopic,
          sink === "redis" ? json.topic : json.topic.replaceAll(" ", "%20")
        )
        assert.strictEqual(message.topic, expected.topic)
        assert.strictEqual(message.id, json.id ?? undefined)
        assert.strictEqual(message.schema, expected.bytes === mismatch ? "mismatch" : undefined)
        assert.strictEqual(message.route, sink === "redis" ? undefined : expected.route)
      }
    }))

  it.scopedLive("the sink keeps pace: 200 notifications published within 5 s of the last answer", () =>
    Effect.gen(function*() {
      const destination = yield* broker.destination
      const server = yield* startServer({ SINKS: sink, ...destination.env() })
      yield* Effect.forEach(Array.from({ length: 200 }, (_, n) => numbered(1000 + n)), (body) => server.post(body), {
        concurrency: 8,
        discard: true
      })
      // One publish at a time, each waiting for its acknowledgement: a stall per message of 25 ms or more fails this,
      // as Nagle's algorithm did to RabbitMQ confirms (about 40 ms each) before TCP_NODELAY.
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0, "5 seconds")
      assert.strictEqual((yield* destination.received).length, 200)
    }))

  it.scopedLive("a broker unreachable at start and cut later: every acknowledged notification arrives once, in order", () =>
    Effect.gen(function*() {
      const destination = yield* broker.destination
      const proxy = yield* startTcpProxy(broker.host, broker.port)
      proxy.cut()
      const server = yield* startServer({ SINKS: sink, ...destination.env(proxy.port), ...fast })
      const first = Array.from({ length: 5 }, (_, n) => numbered(n))
      yield* postAll(server, first)
      yield* eventually("failed attempts while the broker is away", failures(server, sink), (n) => n >= 2)
      assert.deepStrictEqual(yield* destination.received, [])
      proxy.restore()
      yield* eventually("the first five", destination.received, (all) => all.length >= 5)
      // Acknowledged, not only arrived: a cut before the broker's answer reaches the sink makes it send that one again.
      yield* eventually("the first five acknowledged", server.outboxDepth, (n) => n === 0)

      proxy.cut()
      const second = Array.from({ length: 5 }, (_, n) => numbered(n + 5))
      yield* postAll(server, second)
      const before = yield* failures(server, sink)
      yield* eventually("a failed attempt on the cut connection", failures(server, sink), (n) => n > before)
      proxy.restore()
      const received = yield* eventually("all ten", destination.received, (all) => all.length >= 10)
      assert.deepStrictEqual(ids(received), [...first, ...second].map(idOf))
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
    }))

  it.scopedLive("a broker that stops answering: nothing counts as delivered before the broker acknowledges it", () =>
    Effect.gen(function*() {
      const destination = yield* broker.destination
      const proxy = yield* startTcpProxy(broker.host, broker.port)
      const server = yield* startServer({
        SINKS: sink,
        ...destination.env(proxy.port),
        BROKER_TIMEOUT: "300ms",
        ...fast
      })
      yield* postAll(server, [numbered(100)])
      yield* eventually("the first message", destination.received, (all) => all.length === 1)
      // A consumer can see a message before its acknowledgement has left the broker (RabbitMQ confirms after the disk).
      yield* eventually("its acknowledgement", server.outboxDepth, (n) => n === 0)
      proxy.stall()
      const sent = Array.from({ length: 3 }, (_, n) => numbered(101 + n))
      yield* postAll(server, sent)
      yield* eventually("timed-out attempts", failures(server, sink), (n) => n >= 2)
      assert.strictEqual(yield* server.outboxDepth, 3, "still waiting in the outbox")
      proxy.restore()
      const received = yield* eventually("all four", destination.received, (all) => all.length >= 4)
      assert.deepStrictEqual(ids(received), [numbered(100), ...sent].map(idOf))
    }))

  it.scopedLive("a broker that stops answering does not hold up shutdown", () =>
    Effect.gen(function*() {
      const destination = yield* broker.destination
      const proxy = yield* startTcpProxy(broker.host, broker.port)
      let stopping = 0
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* startServer({ SINKS: sink, ...destination.env(proxy.port), BROKER_TIMEOUT: "1s" })
        yield* postAll(server, [numbered(200)])
        yield* eventually("the message", destination.received, (all) => all.length === 1)
        proxy.stall()
        yield* Effect.addFinalizer(() => Effect.sync(() => (stopping = Date.now())))
      }))
      assert.isBelow(Date.now() - stopping, 2500, "stopped within about BROKER_TIMEOUT")
    }))

  it.scopedLive(
    broker.duplicates === "dropped"
      ? "a notification published twice (two instances without a shared store) is in the stream once"
      : "a notification published twice (two instances without a shared store) arrives twice with the same id",
    () =>
      Effect.gen(function*() {
        const destination = yield* broker.destination
        const one = yield* startServer({ SINKS: sink, ...destination.env() })
        const other = yield* startServer({ SINKS: sink, ...destination.env() })
        const sent = fixture("contacts.created").bytes
        assert.strictEqual((yield* one.post(sent)).json.status, "accepted")
        yield* eventually("the first copy", destination.received, (all) => all.length === 1)
        assert.strictEqual((yield* other.post(sent)).json.status, "accepted")
        yield* eventually("the second instance's delivery", other.outboxDepth, (n) => n === 0)
        const copies = broker.duplicates === "dropped" ? 1 : 2
        const received = yield* eventually("the copies", destination.received, (all) => all.length >= copies)
        assert.strictEqual(received.length, copies)
        for (const message of received) {
          assert.isTrue(message.body.equals(sent))
          assert.strictEqual(message.id, idOf(sent))
        }
      })
  )

  it.scopedLive("topics and ids no header can carry as they are: sent encoded as docs/sinks.md says, bodies unchanged", () =>
    Effect.gen(function*() {
      const destination = yield* broker.destination
      const server = yield* startServer({ SINKS: sink, ...destination.env(), ...fast })
      const strange = hostile.map((value) => ({ ...value, bytes: notification(value.topic, value.id) }))
      const clean = Array.from({ length: 5 }, (_, n) => numbered(300 + n))
      yield* postAll(server, [...strange.map(({ bytes }) => bytes), ...clean])
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), [])
      const all = strange.length + clean.length
      const received = yield* eventually("every message", destination.received, (got) => got.length >= all)
      assert.strictEqual(received.length, all)
      for (const expected of strange) {
        const message = received.find((candidate) => candidate.body.equals(expected.bytes))
        assert.isDefined(message, `the bytes posted for ${JSON.stringify(expected.id)}`)
        if (sink === "redis") {
          assert.strictEqual(message!.intercomTopic, expected.topic)
          assert.strictEqual(message!.id, expected.id)
        } else {
          assert.strictEqual(message!.intercomTopic, expected.header.topic)
          assert.strictEqual(message!.notificationId, expected.header.id)
          assert.strictEqual(message!.id, expected.dedupe)
          assert.strictEqual(message!.route, expected.route)
          assert.strictEqual(decodeURIComponent(message!.notificationId!), expected.id)
        }
      }
      for (const bytes of clean) {
        const message = received.find((candidate) => candidate.body.equals(bytes))
        assert.isDefined(message, `clean notification ${idOf(bytes)}`)
        assert.strictEqual(message!.id, idOf(bytes))
        assert.strictEqual(message!.notificationId, idOf(bytes))
      }
    }))

  it.scopedLive("a connection cut while a publish awaits its acknowledgement: unavailable, sent again, no dead letter", () =>
    Effect.gen(function*() {
      const destination = yield* broker.destination
      const proxy = yield* startTcpProxy(broker.host, broker.port)
      const server = yield* startServer({ SINKS: sink, ...destination.env(proxy.port), BROKER_TIMEOUT: "2s", ...fast })
      yield* postAll(server, [numbered(500)])
      yield* eventually("the first message", destination.received, (all) => all.length === 1)
      // The id is in the command ahead of the body (a header, a property, a field): the cut falls inside the command.
      proxy.cutAt("notif_broker_501")
      const before = yield* failures(server, sink)
      const sent = [numbered(501), numbered(502)]
      yield* postAll(server, sent)
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), [])
      assert.isAbove(yield* failures(server, sink), before, "counted as unavailable")
      const received = yield* eventually("all three", destination.received, (all) => all.length >= 3)
      assert.deepStrictEqual(ids(received), [numbered(500), ...sent].map(idOf))
      assert.isTrue(received[1]!.body.equals(sent[0]!))
    }))

  it.scopedLive("a publish the broker refuses for good is a dead letter naming its error; replay delivers it", () =>
    Effect.gen(function*() {
      const destination = yield* broker.destination
      const expected = yield* destination.refuse
      const server = yield* startServer({ SINKS: sink, ...destination.env(), ...fast })
      const sent = fixture("contacts.deleted").bytes
      assert.strictEqual((yield* server.post(sent)).status, 200)
      const [dead] = yield* eventually("a dead letter", server.records("dead-letter.jsonl"), (r) => r.length === 1)
      assert.strictEqual(dead!.reason, "rejected")
      assert.strictEqual(dead!.sink, sink)
      assert.strictEqual(dead!.attempts, 1)
      assert.include(dead!.error as string, expected)
      assert.deepStrictEqual(dead!.payload, JSON.parse(sent.toString("utf8")))

      yield* destination.repair
      const replayed = yield* server.outbox.replay({
        sink: Option.some(sink),
        topic: Option.none(),
        since: Option.none()
      })
      assert.strictEqual(replayed, 1)
      const received = yield* eventually("the replayed message", destination.received, (all) => all.length === 1)
      assert.isTrue(received[0]!.body.equals(sent))
    }))
}
