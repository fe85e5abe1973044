import { Cause, Context, Duration, Effect, Layer, Option } from "effect"
import { logSettings } from "../config/LogConfig.js"
import { redactText } from "../config/Redact.js"
import { Metrics } from "../ops/Metrics.js"
import type { Outcome } from "../pipeline/Receiver.js"
import { type LogEntry, type MinuteCount, NotificationLogStore, type TrafficOutcome } from "../store/NotificationLog.js"

/** Entries waiting for the store at most: beyond, new ones are dropped (and counted) rather than held in memory. */
export const MAX_WAITING = 20_000
/** Entries written in one statement at most. */
const MAX_BATCH = 1000
const FLUSH_EVERY = Duration.millis(250)
const AFTER_FAILURE = Duration.seconds(2)
const PRUNE_EVERY = Duration.minutes(1)
const MINUTE = 60_000

/** The outcome a request is counted under: what the webhook answered, and what it made of a notification. */
export const trafficOutcome = (status: number, outcome: Outcome | undefined): TrafficOutcome => {
  if (outcome === undefined) return status >= 500 ? "failed" : "refused"
  if (outcome.status === "duplicate") return "duplicate"
  return outcome.notification.schemaMismatch === undefined ? "accepted" : "mismatch"
}

/**
 * The notification log's writer: the webhook tells it every answer (`record`, which never blocks and never fails);
 * requests are counted per minute and outcome, and each notification taken is kept with its body. Both reach the store
 * in batches every 250 ms, off the request path: the log is what the console shows, never a reason to refuse a
 * notification. A store that fails keeps the batch waiting (at most `MAX_WAITING` entries) and is tried again.
 */
export class NotificationLog extends Context.Tag("NotificationLog")<NotificationLog, {
  readonly record: (status: number, outcome: Outcome | undefined) => void
}>() {
  static readonly off = Layer.succeed(NotificationLog, NotificationLog.of({ record: () => {} }))

  static readonly layer = Layer.scoped(
    NotificationLog,
    Effect.gen(function*() {
      const settings = yield* logSettings
      if (Option.isNone(settings.retention)) {
        yield* Effect.logInfo("notification log off: no CONSOLE_TOKEN, or NOTIFICATION_LOG_RETENTION=off")
        return NotificationLog.of({ record: () => {} })
      }
      const retentionMs = Duration.toMillis(settings.retention.value)
      const store = yield* NotificationLogStore
      const metrics = yield* Metrics

      let entries: Array<LogEntry> = []
      /** Requests counted since the last write, by `minute|outcome`. */
      let counts = new Map<string, number>()
      const count = (key: string, n: number) => counts.set(key, (counts.get(key) ?? 0) + n)

      const record = (status: number, outcome: Outcome | undefined) => {
        count(`${Math.floor(Date.now() / MINUTE) * MINUTE}|${trafficOutcome(status, outcome)}`, 1)
        if (outcome === undefined || outcome.status === "duplicate") return
        if (entries.length >= MAX_WAITING) return metrics.logEntries.inc({ outcome: "dropped" })
        entries.push({
          notification: outcome.notification,
          outcome: outcome.status === "accepted" ? "accepted" : "no_route",
          sinks: outcome.status === "accepted" ? outcome.sinks : []
        })
      }

      let failing = false
      /**
       * One batch written; false when the store failed (the batch waits again). Uninterruptible: at shutdown the loop
       * stops after the batch it took is written, and what is left is drained after it.
       */
      const writeBatch = Effect.uninterruptible(Effect.suspend(() => {
        const batch = entries.splice(0, MAX_BATCH)
        const taken = counts
        counts = new Map()
        const minutes = [...taken].map(([key, n]): MinuteCount => {
          const [minute, outcome] = key.split("|")
          return { minute: Number(minute), outcome: outcome as TrafficOutcome, count: n }
        })
        return store.write(batch, minutes).pipe(
          Effect.tap(() =>
            Effect.suspend(() => {
              metrics.logEntries.inc({ outcome: "written" }, batch.length)
              if (!failing) return Effect.void
              failing = false
              return Effect.logInfo("notification log: writing again")
            })
          ),
          Effect.as(true),
          Effect.catchTag("StoreUnavailable", (error) =>
            Effect.suspend(() => {
              if (error.refusesValues) {
                // Values the store will never take: written again, they would hold up every later entry.
                metrics.logEntries.inc({ outcome: "dropped" }, batch.length)
                if (batch.length > 0) { for (const [key, n] of taken) count(key, n) }
                return Effect.as(
                  Effect.logWarning("notification log: the store refuses a batch; its entries are dropped").pipe(
                    Effect.annotateLogs({ error: redactText(error.message), entries: batch.length })
                  ),
                  true
                )
              }
              entries = [...batch, ...entries]
              const over = entries.length - MAX_WAITING
              if (over > 0) {
                entries.length = MAX_WAITING
                metrics.logEntries.inc({ outcome: "dropped" }, over)
              }
              for (const [key, n] of taken) count(key, n)
              metrics.logWriteFailures.inc()
              if (failing) return Effect.succeed(false)
              failing = true
              return Effect.as(
                Effect.logWarning("notification log: cannot write, trying again").pipe(
                  Effect.annotateLogs({ error: redactText(error.message), waiting: entries.length })
                ),
                false
              )
            }))
        )
      }))
      /** Everything waiting, batch after batch, until the store fails or nothing is left. */
      const drain: Effect.Effect<boolean> = Effect.flatMap(
        writeBatch,
        (written) => written && entries.length > 0 ? drain : Effect.succeed(written)
      )
      const writing = Effect.flatMap(drain, (written) => Effect.sleep(written ? FLUSH_EVERY : AFTER_FAILURE))

      const prune = Effect.suspend(() => store.prune(Date.now() - retentionMs, settings.maxRows)).pipe(
        Effect.repeat({ while: (removed) => removed > 0 }),
        Effect.catchTag(
          "StoreUnavailable",
          (error) =>
            Effect.logWarning("notification log: cannot remove old entries").pipe(
              Effect.annotateLogs("error", redactText(error.message))
            )
        )
      )

      /** A loop that never stops for good: a defect is logged at ERROR and the loop starts again. */
      const supervised = (name: string, loop: Effect.Effect<unknown>) =>
        loop.pipe(
          Effect.forever,
          Effect.catchAllCause((cause) =>
            Effect.logError(`notification log: the ${name} loop failed; starting it again`).pipe(
              Effect.annotateLogs("cause", Cause.pretty(cause).slice(0, 2000))
            )
          ),
          Effect.zipRight(Effect.sleep(AFTER_FAILURE)),
          Effect.forever,
          Effect.forkScoped
        )
      // Registered before the loops, so it runs after they stop (finalizers run in reverse).
      yield* Effect.addFinalizer(() => Effect.timeout(drain, Duration.seconds(5)).pipe(Effect.ignore))
      yield* supervised("writing", writing)
      yield* supervised("pruning", Effect.zipRight(prune, Effect.sleep(PRUNE_EVERY)))
      return NotificationLog.of({ record })
    })
  )
}
