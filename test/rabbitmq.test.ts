import { assert, describe, it } from "@effect/vitest"
import amqp from "amqplib"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { brokerSuite, failures, fast, type Received } from "./support/BrokerSuite.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { requireService } from "./support/Services.js"
import { startServer } from "./support/TestServer.js"

const url = new URL(process.env.AMQP_TEST_URL ?? "amqp://guest:guest@127.0.0.1:5672")
const up = await requireService("RabbitMQ", url.hostname, Number(url.port || 5672))

const text = (value: unknown) => value === undefined || value === null ? undefined : String(value)

/**
 * An exchange of its own, declared as the sink declares it, and a durable queue bound to it with `#`; both deleted
 * when the test ends.
 */
const destination = Effect.gen(function*() {
  const unique = `${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`
  const exchange = `test_${unique}`
  const queue = `test_${unique}`
  const connection = yield* Effect.acquireRelease(
    Effect.promise(() => amqp.connect(url.toString())),
    (connection) =>
      Effect.promise(async () => {
        const channel = await connection.createChannel()
        await channel.deleteQueue(queue)
        await channel.deleteExchange(exchange)
        await connection.close()
      })
  )
  connection.on("error", () => undefined)
  const messages: Array<Received> = []
  const problems: Array<string> = []
  const channel = yield* Effect.promise(() => connection.createChannel())
  channel.on("error", () => undefined)
  const declare = (type: string) =>
    Effect.promise(async () => {
      await channel.assertExchange(exchange, type, { durable: true })
      await channel.bindQueue(queue, exchange, "#")
    })
  const take = (message: amqp.GetMessage) => {
    const headers = message.properties.headers ?? {}
    messages.push({
      body: message.content,
      route: message.fields.routingKey,
      intercomTopic: text(headers["x-intercom-topic"]),
      topic: text(headers["x-webhook-topic"]),
      id: text(message.properties.messageId),
      notificationId: text(headers["x-notification-id"]),
      schema: text(headers["x-webhook-schema"])
    })
    if (message.properties.deliveryMode !== 2) problems.push(`${message.properties.messageId} is not persistent`)
    if (message.properties.contentType !== "application/json") {
      problems.push(`${message.properties.messageId} has content type ${message.properties.contentType}`)
    }
  }
  yield* Effect.promise(() => channel.assertQueue(queue, { durable: true }))
  yield* declare("topic")

  return {
    env: (port?: number) => {
      const through = new URL(url)
      if (port !== undefined) through.port = String(port)
      return { AMQP_URL: through.toString(), AMQP_EXCHANGE: exchange }
    },
    // Read with basic.get, so that messages wait in the queue (on disk) as they would for a slower consumer.
    received: Effect.promise(async () => {
      for (
        let message = await channel.get(queue, { noAck: true });
        message;
        message = await channel.get(queue, { noAck: true })
      ) {
        take(message)
      }
    }).pipe(
      Effect.zipRight(
        Effect.suspend(() =>
          problems.length > 0 ? Effect.dieMessage(problems.join("; ")) : Effect.succeed([...messages])
        )
      )
    ),
    refuse: Effect.promise(() => channel.deleteExchange(exchange)).pipe(
      Effect.zipRight(declare("fanout")),
      Effect.as("PRECONDITION_FAILED - inequivalent arg 'type'")
    ),
    repair: Effect.promise(() => channel.deleteExchange(exchange)).pipe(Effect.zipRight(declare("topic"))),
    /** Deletes the exchange, and with it the queue's binding. */
    removeExchange: Effect.promise(() => channel.deleteExchange(exchange)).pipe(Effect.asVoid)
  }
})

describe.runIf(up)("rabbitmq sink", () => {
  brokerSuite({
    sink: "rabbitmq",
    host: url.hostname,
    port: Number(url.port || 5672),
    destination,
    duplicates: "kept"
  })

  it.scopedLive("the exchange deleted under a connected sink (the broker closes the channel): unavailable, then delivered", () =>
    Effect.gen(function*() {
      const target = yield* destination
      const server = yield* startServer({ SINKS: "rabbitmq", ...target.env(), ...fast })
      const [first, second] = loadFixtures().filter((fixture) => fixture.topic === "contacts.created")
      assert.strictEqual((yield* server.post(first!.bytes)).status, 200)
      yield* eventually("the first message", target.received, (all) => all.length === 1)
      yield* target.removeExchange
      const before = yield* failures(server, "rabbitmq")
      assert.strictEqual((yield* server.post(second!.bytes)).status, 200)
      // The publish to a missing exchange: 404 NOT_FOUND closes the channel, the confirm never comes.
      const [, dead] = yield* eventually(
        "an attempt on the closed channel, or a dead letter",
        Effect.all([failures(server, "rabbitmq"), server.records("dead-letter.jsonl")]),
        ([attempts, dead]) => attempts > before || dead.length > 0
      )
      assert.deepStrictEqual(dead, [])
      // Back with its binding before the sink's next attempt (250 ms on), which declares the exchange itself; a message
      // published to an exchange without the binding would be confirmed and dropped.
      yield* target.repair
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), [])
      const received = yield* eventually("both", target.received, (all) => all.length >= 2)
      assert.deepStrictEqual(
        received.map((message) => message.id),
        [first, second].map((f) => (f!.json as { id: string }).id)
      )
      assert.isTrue(received[1]!.body.equals(second!.bytes))
    }))
})
