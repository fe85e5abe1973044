import { Duration, Effect, Layer, Option } from "effect"
import { ReceiverConfig } from "../config/ReceiverConfig.js"
import { type Sink, Sinks } from "../sinks/Sink.js"
import { Outbox, type OutboxEntry } from "../store/Outbox.js"
import { retryDelay } from "./Backoff.js"
import { DeadLetters } from "./DeadLetters.js"
import { Decoder } from "./Notification.js"
import { verifiedBeforeStoring } from "./Signature.js"

/** Deliveries fetched per round. */
const BATCH = 64
/** Longest sleep between looks at the outbox: other processes (`npm run replay`) add rows without waking us. */
const POLL = Duration.seconds(5)

/**
 * One worker per outbox sink, so a failing target slows nobody else, and one per sink across every instance sharing
 * the store (it delivers only while this instance holds the sink's lease). Each delivers in receive order; a retryable
 * failure stops its round until the failed delivery is due again (full-jitter backoff, at least `Retry-After`), so a
 * target that is down is tried once per backoff period rather than hammered.
 */
const worker = (sink: Sink) =>
  Effect.gen(function*() {
    const config = yield* ReceiverConfig
    const outbox = yield* Outbox
    const deadLetters = yield* DeadLetters
    const decoder = yield* Decoder
    const policy = { base: config.retryBaseDelay, max: config.retryMaxDelay }

    /** Delivers one entry; true when the round may go on with the next. */
    const attempt = (entry: OutboxEntry, delivered: Array<number>) =>
      Effect.gen(function*() {
        const now = Date.now()
        const attempts = entry.attempts + 1
        if (now - entry.receivedAt.getTime() > Duration.toMillis(config.maxAge)) {
          yield* deadLetters.bury(
            entry,
            "expired",
            `not delivered within MAX_AGE (${Duration.format(config.maxAge)})`,
            entry.attempts
          )
          return true
        }
        const decoded = decoder.decode(verifiedBeforeStoring(entry.body), entry.receivedAt)
        if (decoded._tag === "Left") {
          yield* deadLetters.bury(entry, "rejected", decoded.left.message, entry.attempts)
          return true
        }
        const notification = decoded.right
        if (sink.input === "decoded" && notification.schemaMismatch !== undefined) {
          yield* deadLetters.bury(entry, "schema_mismatch", notification.schemaMismatch, entry.attempts)
          return true
        }
        const result = yield* Effect.either(sink.deliver(notification))
        if (result._tag === "Right") {
          delivered.push(entry.seq)
          return true
        }
        const error = result.left
        if (!error.retryable) {
          yield* deadLetters.bury(entry, "rejected", error.message, attempts)
          return true
        }
        if (attempts >= config.maxAttempts) {
          yield* deadLetters.bury(entry, "exhausted", error.message, attempts)
          return true
        }
        const delay = retryDelay(policy, attempts, error.retryAfter)
        yield* outbox.retryLater(entry.seq, attempts, now + Duration.toMillis(delay), error.message)
        yield* Effect.logWarning("delivery failed; will retry").pipe(
          Effect.annotateLogs({
            sink: sink.name,
            seq: entry.seq,
            attempts,
            retry_in: Duration.format(delay),
            error: error.message
          })
        )
        return false
      })

    const round = Effect.gen(function*() {
      const entries = yield* outbox.due(sink.name, Date.now(), BATCH)
      if (entries.length === 0) {
        const next = yield* outbox.nextDue(sink.name)
        const wait = Option.match(next, {
          onNone: () => POLL,
          onSome: (at) => Duration.min(POLL, Duration.millis(Math.max(0, at - Date.now())))
        })
        return yield* outbox.waitQueued(sink.name).pipe(Effect.timeout(wait), Effect.ignore)
      }
      const delivered: Array<number> = []
      for (const entry of entries) {
        if (!(yield* attempt(entry, delivered))) break
      }
      yield* outbox.delivered(delivered)
    })

    return yield* round.pipe(
      Effect.catchAll((error) =>
        Effect.logError("outbox unavailable; pausing delivery").pipe(
          Effect.annotateLogs({ sink: sink.name, error: error.message }),
          Effect.zipRight(Effect.sleep(Duration.seconds(1)))
        )
      ),
      Effect.forever,
      (work) => outbox.exclusive(sink.name, work)
    )
  })

/** Starts a worker for every sink that takes deliveries from the outbox; they stop when the app's scope closes. */
export const layer = Layer.scopedDiscard(
  Effect.gen(function*() {
    const sinks = yield* Sinks
    for (const sink of sinks.values()) {
      if (sink.mode !== "inline") yield* Effect.forkScoped(worker(sink))
    }
  })
)
