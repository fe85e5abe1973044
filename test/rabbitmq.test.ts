import { describe } from "@effect/vitest"
import amqp from "amqplib"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { brokerSuite, type Received } from "./support/BrokerSuite.js"
import { requireService } from "./support/Services.js"

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
    repair: Effect.promise(() => channel.deleteExchange(exchange)).pipe(Effect.zipRight(declare("topic")))
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
})
