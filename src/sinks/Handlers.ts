import { Cause, Context, Effect, Layer, Option } from "effect"
import type { CanonicalTopic, NotificationOf } from "../generated/index.js"
import type { Notification } from "../pipeline/Notification.js"
import { type Sink, SinkError } from "./Sink.js"

/**
 * Typed handlers, at most one per canonical topic. Each gets the notification decoded by its topic's generated
 * schema, and the notification as received. They run from the durable outbox: a failure is retried with backoff, and a
 * handler that fails with a `SinkError` says itself what its failure means (`SinkError.unavailable` when what it writes
 * to is down: the sink then waits and probes rather than spending the notification's attempts).
 */
export type HandlerMap<R = never> = {
  readonly [T in CanonicalTopic]?: (
    notification: NotificationOf<T>,
    received: Notification
  ) => Effect.Effect<unknown, unknown, R>
}

/** The typed-handler sink, named `handlers` in `ROUTES`. Provide it with `Handlers.layer({...})`. */
export class Handlers extends Context.Tag("Handlers")<Handlers, Sink>() {
  static readonly layer = <R = never>(handlers: HandlerMap<R>): Layer.Layer<Handlers, never, R> =>
    Layer.effect(
      Handlers,
      Effect.map(Effect.context<R>(), (context) => ({
        name: "handlers",
        mode: "outbox",
        input: "decoded",
        deliver: (notification) => {
          const decoded = notification.decoded
          if (decoded === undefined) return Effect.void
          const handler = handlers[decoded.topic] as
            | ((value: unknown, received: Notification) => Effect.Effect<unknown, unknown, R>)
            | undefined
          if (handler === undefined) return Effect.void
          return Effect.suspend(() => handler(decoded.value, notification)).pipe(
            Effect.provide(context),
            Effect.catchAllCause((cause) => {
              const failure = Cause.failureOption(cause)
              return Effect.fail(
                Option.isSome(failure) && failure.value instanceof SinkError
                  ? failure.value
                  : SinkError.failed("handlers", `${decoded.topic} handler failed: ${Cause.pretty(cause)}`)
              )
            }),
            Effect.asVoid
          )
        }
      }))
    )
}
