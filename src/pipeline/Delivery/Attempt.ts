import { Cause, Data, Duration, Effect, Either } from "effect"
import type { ReceiverSettings } from "../../config/ReceiverConfig.js"
import { redactText } from "../../config/Redact.js"
import type { Metrics } from "../../ops/Metrics.js"
import type { Sink, SinkError } from "../../sinks/Sink.js"
import type { DeadLetterReason, Outbox, OutboxEntry, StoreUnavailable } from "../../store/Outbox.js"
import { retryDelay } from "../Backoff.js"
import type { DeadLetters } from "../DeadLetters.js"
import type { Decoder } from "../Notification.js"
import { verifiedBeforeStoring } from "../Signature.js"
import type { SinkHealth } from "./SinkHealth.js"

/**
 * What became of one attempt: `delivered` (the sink has it), `settled` (it left the outbox as a dead letter), `held`
 * (it stays: it waits for its retry, or the sink's target is unavailable), and its key's later deliveries wait too.
 */
export type Attempted = "delivered" | "settled" | "held"

/** The sink cannot take this notification, whatever it is sent: it needs a schema match, or it no longer decodes. */
class Undeliverable extends Data.TaggedError("Undeliverable")<{
  readonly reason: DeadLetterReason
  readonly message: string
}> {}

/** The sink threw or died while delivering: a bug, kept to this one notification. */
class DeliveryDefect extends Data.TaggedError("DeliveryDefect")<{ readonly message: string }> {}

export interface AttemptContext {
  readonly config: ReceiverSettings
  readonly outbox: Outbox["Type"]
  readonly deadLetters: DeadLetters["Type"]
  readonly decoder: Decoder
  readonly metrics: Metrics["Type"]
}

/**
 * Delivers one outbox entry to `sink` and records what became of it. A failure that says the target is unavailable
 * leaves the entry as it was (no attempt spent) and makes the sink `failing`, unless the target took other deliveries
 * since the entry was sent or since its previous such failure: then it was this notification's failure, retried with
 * backoff like a `failed` one. Whatever the sink throws
 * is this notification's dead letter, never the worker's end.
 */
export const make = (sink: Sink, health: SinkHealth, context: AttemptContext) => {
  const { config, deadLetters, decoder, metrics, outbox } = context
  const policy = { base: config.retryBaseDelay, max: config.retryMaxDelay }
  const maxAgeMs = Duration.toMillis(config.maxAge)
  const annotations = (entry: OutboxEntry) => ({ sink: sink.name, seq: entry.seq, key: entry.key })

  const deliver = (entry: OutboxEntry): Effect.Effect<void, SinkError | Undeliverable | DeliveryDefect> =>
    Effect.suspend((): Effect.Effect<void, SinkError | Undeliverable> => {
      const decoded = decoder.decode(verifiedBeforeStoring(entry.body), entry.receivedAt)
      if (Either.isLeft(decoded)) {
        return Effect.fail(new Undeliverable({ reason: "rejected", message: decoded.left.message }))
      }
      const notification = decoded.right
      if (sink.input === "decoded" && notification.schemaMismatch !== undefined) {
        return Effect.fail(new Undeliverable({ reason: "schema_mismatch", message: notification.schemaMismatch }))
      }
      return sink.deliver(notification)
    }).pipe(
      Effect.catchAllDefect((defect) =>
        Effect.fail(new DeliveryDefect({ message: redactText(Cause.pretty(Cause.die(defect)).split("\n")[0]!) }))
      )
    )

  /** This notification failed: another attempt after a backoff, or `exhausted` once `MAX_ATTEMPTS` are spent. */
  const failedOnce = (entry: OutboxEntry, error: SinkError): Effect.Effect<Attempted, StoreUnavailable> => {
    const attempts = entry.attempts + 1
    if (attempts >= config.maxAttempts) {
      return Effect.as(deadLetters.bury(entry, "exhausted", error.message, attempts), "settled")
    }
    const delay = retryDelay(policy, attempts, error.retryAfter)
    return outbox.retryLater(entry.seq, attempts, Date.now() + Duration.toMillis(delay), error.message).pipe(
      Effect.zipRight(
        Effect.logWarning("delivery failed; will retry").pipe(
          Effect.annotateLogs({
            ...annotations(entry),
            attempts,
            retry_in: Duration.format(delay),
            error: error.message
          })
        )
      ),
      Effect.as("held")
    )
  }

  const unavailable = (entry: OutboxEntry, error: SinkError, sentAt: number) =>
    Effect.suspend(() => {
      const wasFailing = health.failing
      const wait = health.unavailable(error, entry.key, sentAt, Date.now())
      const log = wasFailing ? Effect.logDebug("sink still unavailable") : Effect.logWarning(
        "sink unavailable; delivery paused, probing it with one delivery at a time"
      )
      return log.pipe(
        Effect.annotateLogs({ sink: sink.name, error: error.message, probe_in: Duration.format(wait) }),
        Effect.as<Attempted>("held")
      )
    })

  return (entry: OutboxEntry): Effect.Effect<Attempted, StoreUnavailable> =>
    Effect.suspend(() => {
      if (Date.now() - entry.receivedAt.getTime() > maxAgeMs) {
        const message = `not delivered within MAX_AGE (${Duration.format(config.maxAge)})`
        return Effect.as(deadLetters.bury(entry, "expired", message, entry.attempts), "settled")
      }
      const successes = health.successes
      const sentAt = Date.now()
      return Effect.matchEffect(deliver(entry), {
        onSuccess: () =>
          Effect.suspend(() => {
            const recovered = health.succeeded(entry.seq, Date.now())
            return recovered._tag === "None" ? Effect.succeed<Attempted>("delivered") : Effect.logInfo(
              "sink available again; delivering at full speed"
            ).pipe(
              Effect.annotateLogs({ sink: sink.name, unavailable_for: Duration.format(recovered.value) }),
              Effect.as<Attempted>("delivered")
            )
          }),
        onFailure: (error): Effect.Effect<Attempted, StoreUnavailable> => {
          switch (error._tag) {
            case "Undeliverable":
              return Effect.as(deadLetters.bury(entry, error.reason, error.message, entry.attempts), "settled")
            case "DeliveryDefect":
              metrics.deliveryDefects.inc({ sink: sink.name })
              return Effect.logError("delivery failed unexpectedly; the notification is a dead letter").pipe(
                Effect.annotateLogs({ ...annotations(entry), error: error.message }),
                Effect.zipRight(
                  deadLetters.bury(
                    entry,
                    "rejected",
                    `the sink failed unexpectedly: ${error.message}`,
                    entry.attempts + 1
                  )
                ),
                Effect.as("settled")
              )
            case "SinkError":
              if (error.kind === "rejected") {
                return Effect.as(deadLetters.bury(entry, "rejected", error.message, entry.attempts + 1), "settled")
              }
              return error.kind === "unavailable" && !health.ownFailure(entry.seq, successes)
                ? unavailable(entry, error, sentAt)
                : failedOnce(entry, error)
          }
        }
      })
    })
}
