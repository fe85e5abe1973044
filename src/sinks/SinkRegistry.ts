import { Effect, Layer, Option, Redacted } from "effect"
import { ReceiverConfig } from "../config/ReceiverConfig.js"
import { redactUrl } from "../config/Redact.js"
import { Metrics } from "../ops/Metrics.js"
import { Outbox } from "../store/Outbox.js"
import * as ConsoleSink from "./ConsoleSink.js"
import * as FileSink from "./FileSink.js"
import { Handlers } from "./Handlers.js"
import * as HttpSink from "./HttpSink.js"
import * as MirrorSink from "./MirrorSink.js"
import { type Sink, type SinkError, Sinks } from "./Sink.js"

/**
 * Counts deliveries and failures and times them. The delivery is made from the notification at once, so that nothing
 * left waiting while it runs (its timing) holds the notification and its parsed payload.
 */
const instrument = (sink: Sink, metrics: Metrics["Type"]): Sink => {
  const labels = { sink: sink.name }
  const seconds = (started: number) => metrics.deliverySeconds.observe(labels, (performance.now() - started) / 1000)
  const timed = (delivery: Effect.Effect<void, SinkError>) =>
    Effect.suspend(() => {
      const started = performance.now()
      return Effect.matchEffect(delivery, {
        onFailure: (error) => {
          seconds(started)
          metrics.deliveryFailures.inc({ sink: sink.name, kind: error.kind })
          return Effect.fail(error)
        },
        onSuccess: () => {
          seconds(started)
          metrics.deliveries.inc(labels)
          return Effect.void
        }
      })
    })
  return { ...sink, deliver: (notification) => timed(sink.deliver(notification)) }
}

const broker = (url: Redacted.Redacted<URL>) => ({ url: Redacted.value(url), target: redactUrl(Redacted.value(url)) })

/** The sinks named in `SINKS`, plus the typed handlers when the program provides them. */
export const layer = Layer.scoped(
  Sinks,
  Effect.gen(function*() {
    const config = yield* ReceiverConfig
    const sinks = new Map<string, Sink>()
    const timeout = config.brokerTimeout
    // The broker sinks' modules are imported only when `SINKS` names them: each client library costs megabytes of
    // memory at start that a service without it should not pay.
    for (const name of config.sinks) {
      switch (name) {
        case "console":
          sinks.set(name, ConsoleSink.make(config.consoleFormat))
          break
        case "file":
          sinks.set(name, yield* FileSink.make(config.fileSinkPath))
          break
        case "http":
          sinks.set(
            name,
            yield* HttpSink.make({
              url: Option.getOrThrow(config.forwardUrl),
              timeout: config.forwardTimeout,
              signingSecret: config.forwardSigningSecret
            })
          )
          break
        case "mirror":
          sinks.set(name, MirrorSink.make(yield* Outbox))
          break
        case "nats":
          sinks.set(
            name,
            yield* (yield* Effect.promise(() => import("./NatsSink.js"))).make({
              ...broker(config.natsUrl),
              stream: config.natsStream,
              subjectPrefix: config.natsSubjectPrefix,
              timeout
            })
          )
          break
        case "rabbitmq":
          sinks.set(
            name,
            yield* (yield* Effect.promise(() => import("./RabbitSink.js"))).make({
              ...broker(config.amqpUrl),
              exchange: config.amqpExchange,
              timeout
            })
          )
          break
        case "redis":
          sinks.set(
            name,
            yield* (yield* Effect.promise(() => import("./RedisSink.js"))).make({
              ...broker(config.redisUrl),
              stream: config.redisStream,
              maxLen: config.redisMaxLen,
              timeout
            })
          )
          break
      }
    }
    const handlers = yield* Effect.serviceOption(Handlers)
    if (Option.isSome(handlers)) sinks.set(handlers.value.name, handlers.value)
    const metrics = yield* Metrics
    return new Map([...sinks].map(([name, sink]) => [name, instrument(sink, metrics)]))
  })
)
