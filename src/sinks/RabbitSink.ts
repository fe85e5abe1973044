import amqp from "amqplib"
import { Duration, Effect } from "effect"
import { asBuffer } from "../pipeline/Notification.js"
import * as Broker from "./Broker.js"
import { dedupeId } from "./HeaderValue.js"
import { metadataHeaders, type Sink, SinkError } from "./Sink.js"

export interface RabbitSinkOptions {
  readonly url: URL
  /** Where the URL may be shown: no password. */
  readonly target: string
  readonly exchange: string
  readonly timeout: Duration.Duration
}

interface Held {
  readonly connection: amqp.ChannelModel
  readonly channel: amqp.ConfirmChannel
  readonly closed: () => boolean
}

/** Channel errors that declaring or publishing again cannot fix: access refused, not found, precondition failed. */
const REFUSALS = new Set([403, 404, 406])

const isRefusal = (error: unknown) =>
  error instanceof RangeError || error instanceof TypeError ||
  (typeof error === "object" && error !== null && REFUSALS.has((error as { code?: unknown }).code as number))

const open = async (options: RabbitSinkOptions): Promise<Held> => {
  const connection = await amqp.connect(options.url.toString(), {
    timeout: Duration.toMillis(options.timeout),
    noDelay: true
  })
  let closed = false
  connection.on("error", () => undefined)
  connection.on("close", () => (closed = true))
  try {
    const channel = await connection.createConfirmChannel()
    channel.on("error", () => undefined)
    channel.on("close", () => (closed = true))
    await channel.assertExchange(options.exchange, "topic", { durable: true })
    return { connection, channel, closed: () => closed }
  } catch (error) {
    await connection.close().catch(() => undefined)
    throw error
  }
}

/**
 * `rabbitmq`: publishes persistent messages to a durable topic exchange with the topic as routing key and the
 * notification's dedupe id as `message_id`, on a confirm channel. Delivered on the broker's confirm.
 */
export const make = (options: RabbitSinkOptions) =>
  Effect.gen(function*() {
    const failure = Broker.failure("rabbitmq", options.url, isRefusal)
    const explained = Broker.explain(options.url)
    const broker = yield* Broker.connection<Held>({
      sink: "rabbitmq",
      target: options.target,
      timeout: options.timeout,
      open: Broker.opening(() => open(options), (held) => held.connection.close().catch(() => undefined)).pipe(
        Effect.mapError(failure)
      ),
      isOpen: (held) => !held.closed(),
      close: (held) => Effect.promise(() => held.connection.close().catch(() => undefined))
    })
    yield* Effect.forkScoped(broker.warm)

    return {
      name: "rabbitmq",
      mode: "outbox",
      // A broker takes many publishes on one connection; its acknowledgements, not this process, set the pace.
      inFlight: 128,
      input: "bytes",
      deliver: (notification) =>
        broker.use(({ channel }) =>
          Effect.async<void, SinkError>((resume) => {
            try {
              channel.publish(
                options.exchange,
                Broker.routingTopic(notification),
                asBuffer(notification.body),
                {
                  persistent: true,
                  contentType: "application/json",
                  headers: metadataHeaders(notification),
                  timestamp: Math.floor(notification.receivedAt.getTime() / 1000),
                  ...(notification.id === null ? {} : { messageId: dedupeId(notification.id) })
                },
                (error) =>
                  resume(
                    error === null || error === undefined
                      ? Effect.void
                      : Effect.fail(
                        SinkError.unavailable("rabbitmq", explained(error, "not confirmed: "))
                      )
                  )
              )
            } catch (error) {
              resume(Effect.fail(failure(error)))
            }
          })
        )
    } satisfies Sink
  })
