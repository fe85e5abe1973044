import { Context, Effect, Layer } from "effect"
import { ReceiverConfig } from "../config/ReceiverConfig.js"
import { redactText } from "../config/Redact.js"
import { Metrics } from "../ops/Metrics.js"
import * as DurableFile from "../sinks/DurableFile.js"
import { record } from "../sinks/Sink.js"
import { type DeadLetter, type DeadLetterReason, Outbox, type OutboxEntry, StoreUnavailable } from "../store/Outbox.js"
import type { NotificationBytes } from "./Notification.js"

/** The longest part of a dead letter's error that its log line shows (the store and the file keep all of it). */
const MAX_ERROR_LOG = 500

/**
 * Notifications that were verified but could not be delivered, never dropped: kept in the store (where
 * `npm run replay` finds them) and appended to `DEAD_LETTER_PATH` for people and log shippers.
 */
export class DeadLetters extends Context.Tag("DeadLetters")<DeadLetters, {
  /** The JSONL file they are appended to, if any. */
  readonly path: string | undefined
  /** A notification that never reached the outbox (no route). */
  readonly add: (
    notification: NotificationBytes,
    reason: DeadLetterReason,
    error: string
  ) => Effect.Effect<DeadLetter, StoreUnavailable>
  /** A delivery the outbox gave up on. */
  readonly bury: (
    entry: OutboxEntry,
    reason: DeadLetterReason,
    error: string,
    attempts: number
  ) => Effect.Effect<DeadLetter, StoreUnavailable>
}>() {
  /** Appended to `DEAD_LETTER_PATH` too. */
  static readonly layer = Layer.scoped(
    DeadLetters,
    Effect.flatMap(ReceiverConfig, ({ deadLetterPath }) => make(deadLetterPath))
  )

  /** In the store only. */
  static readonly storeOnly = Layer.scoped(DeadLetters, Effect.suspend(() => make(undefined)))
}

const make = (deadLetterPath: string | undefined) =>
  Effect.gen(function*() {
    const outbox = yield* Outbox
    const metrics = yield* Metrics
    const file = deadLetterPath === undefined ? undefined : yield* DurableFile.make(deadLetterPath)
    // Logged as soon as the store holds it. A schema mismatch's error quotes the payload's values, which are never
    // logged: that one is in the store and the file only.
    const warn = (dead: DeadLetter) =>
      Effect.logWarning("dead letter").pipe(
        Effect.annotateLogs({
          sink: dead.sink ?? "none",
          reason: dead.reason,
          id: dead.notificationId ?? "-",
          intercom_topic: dead.intercomTopic,
          attempts: dead.attempts,
          dead_letter: dead.id,
          ...(dead.reason === "schema_mismatch" ? {} : {
            error: dead.error.length > MAX_ERROR_LOG ? `${dead.error.slice(0, MAX_ERROR_LOG)}...` : dead.error
          })
        })
      )
    const log = (dead: DeadLetter) =>
      warn(dead).pipe(
        Effect.zipRight(
          file === undefined ? Effect.void : file.append(
            record(
              { ...dead, id: dead.notificationId },
              { reason: dead.reason, error: dead.error, sink: dead.sink, attempts: dead.attempts }
            )
          )
        ),
        Effect.mapError((error) => new StoreUnavailable({ message: error.message })),
        Effect.tap(() => metrics.deadLetters.inc({ sink: dead.sink ?? "none", reason: dead.reason })),
        Effect.as(dead)
      )
    return DeadLetters.of({
      path: deadLetterPath,
      // Sinks redact their errors; this also keeps any URL a future error quotes out of the file and the store.
      add: (notification, reason, error) =>
        Effect.flatMap(outbox.addDeadLetter(notification, reason, redactText(error)), log),
      bury: (entry, reason, error, attempts) =>
        Effect.flatMap(outbox.bury(entry, reason, redactText(error), attempts), log)
    })
  })
