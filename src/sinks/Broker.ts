import { Duration, Effect, Option, ScopedRef } from "effect"
import { createHash } from "node:crypto"
import { redactor, redactUrl } from "../config/Redact.js"
import type { Notification } from "../pipeline/Notification.js"
import { SinkError } from "./Sink.js"

/** The longest routing topic: an AMQP routing key holds 255 bytes, and a NATS subject has the prefix before it. */
export const MAX_ROUTING_LENGTH = 200

/**
 * The topic a broker routes by: the canonical topic, or Intercom's topic string for topics without a schema, made a
 * valid NATS subject and AMQP routing key: dots separate tokens, any other character but letters, digits, `-` and `_`
 * becomes `_`, and an empty token is `_`, so no wildcard, space or empty token can reach a broker. Empty tokens can
 * make it longer than the topic string: past `MAX_ROUTING_LENGTH` it is cut to 183 characters followed by `_` and 16
 * hex digits of the SHA-256 of Intercom's topic string.
 */
export const routingTopic = (notification: Notification): string => {
  const written = notification.topic ??
    notification.intercomTopic.split(".").map((token) => token.replace(/[^A-Za-z0-9_-]/g, "_") || "_").join(".")
  if (written.length <= MAX_ROUTING_LENGTH) return written
  const hash = createHash("sha256").update(notification.intercomTopic, "utf8").digest("hex").slice(0, 16)
  return `${written.slice(0, MAX_ROUTING_LENGTH - 17)}_${hash}`
}

/**
 * A promise-returning start that may be abandoned: when the fiber waiting for it is interrupted (a timeout), whatever
 * it opens later is released at once instead of leaking.
 */
export const opening = <C>(start: () => Promise<C>, release: (connection: C) => unknown) =>
  Effect.async<C, unknown>((resume) => {
    let abandoned = false
    start().then(
      (connection) => abandoned ? void release(connection) : resume(Effect.succeed(connection)),
      (error) => resume(Effect.fail(error))
    )
    return Effect.sync(() => {
      abandoned = true
    })
  })

export const messageOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

/**
 * A broker's error as it may be shown: after where the broker is, the client library's message without the URL's
 * password or secret parameters, wherever the library put them.
 */
export const explain = (url: URL) => {
  const target = redactUrl(url)
  const redact = redactor(url)
  return (error: unknown, what = ""): string => `${target}: ${what}${redact(messageOf(error))}`
}

/** A broker's error as the sink's failure: the broker unavailable, unless `isRefusal` says it refused the message. */
export const failure = (sink: string, url: URL, isRefusal: (error: unknown) => boolean) => {
  const explained = explain(url)
  return (error: unknown) =>
    isRefusal(error)
      ? SinkError.rejected(sink, explained(error))
      : SinkError.unavailable(sink, explained(error))
}

export interface BrokerConnectionOptions<C> {
  readonly sink: string
  /** Where the broker is, as it may be shown (no password). */
  readonly target: string
  readonly timeout: Duration.Duration
  /** Connects and declares what the sink publishes to; a refusal that retrying cannot fix is `rejected`. */
  readonly open: Effect.Effect<C, SinkError>
  readonly isOpen: (connection: C) => boolean
  readonly close: (connection: C) => Effect.Effect<void>
}

/**
 * A broker connection opened on first use, and again once it has broken or a publish through it failed in a way
 * worth retrying: a resource (`acquireRelease`) held in a `ScopedRef`, each connection released when replaced and the
 * last one with the scope. A broker that is down fails the delivery, which the outbox retries: never the start. Every
 * open, publish and close is bounded by `timeout`, so a broker that stops answering counts as down.
 */
export const connection = <C>(options: BrokerConnectionOptions<C>) =>
  Effect.gen(function*() {
    const current = yield* ScopedRef.make(() => Option.none<C>())
    const timedOut = (what: string) => () =>
      SinkError.unavailable(options.sink, `${options.target}: ${what} within ${Duration.format(options.timeout)}`)
    // Acquire and release run uninterruptibly: the timeouts are let in explicitly, so that a broker that no longer
    // answers can hold up neither a delivery nor shutdown.
    const opened = Effect.acquireRelease(
      options.open.pipe(
        Effect.interruptible,
        Effect.timeoutFail({ duration: options.timeout, onTimeout: timedOut("not connected") })
      ),
      (connection) =>
        options.close(connection).pipe(Effect.interruptible, Effect.timeout(options.timeout), Effect.ignore)
    ).pipe(
      Effect.tap(() =>
        Effect.logInfo("broker connected").pipe(Effect.annotateLogs({ sink: options.sink, broker: options.target }))
      ),
      Effect.map(Option.some)
    )
    const drop = ScopedRef.set(current, Effect.succeed(Option.none<C>()))
    // One opening at a time: the start's attempt and a first delivery would otherwise open a connection each.
    const oneAtATime = yield* Effect.makeSemaphore(1)
    const get = ScopedRef.get(current).pipe(
      Effect.flatMap((held) =>
        Option.isSome(held) && options.isOpen(held.value)
          ? Effect.succeed(held.value)
          : ScopedRef.set(current, opened).pipe(
            Effect.zipRight(ScopedRef.get(current)),
            Effect.map(Option.getOrThrow)
          )
      ),
      oneAtATime.withPermits(1)
    )

    /** Runs `publish` on the connection, opening it first when needed. */
    const use = <A>(publish: (connection: C) => Effect.Effect<A, SinkError>) =>
      get.pipe(
        Effect.flatMap((connection) =>
          publish(connection).pipe(
            Effect.timeoutFail({ duration: options.timeout, onTimeout: timedOut("no acknowledgement") })
          )
        ),
        Effect.tapError((error) => error.kind === "unavailable" ? drop : Effect.void)
      )

    /** Connects at start when the broker is there, so the first notification does not wait; logs when it is not. */
    const warm = get.pipe(
      Effect.catchAll((error) =>
        Effect.logWarning("broker not reachable; notifications wait in the outbox").pipe(
          Effect.annotateLogs({ sink: options.sink, error: error.message })
        )
      )
    )
    return { use, warm }
  })
