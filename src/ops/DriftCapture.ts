import { Cause, Context, Duration, Effect, Layer, Option, Queue, Runtime } from "effect"
import { ReceiverConfig } from "../config/ReceiverConfig.js"
import { asBuffer, type NotificationBytes } from "../pipeline/Notification.js"
import { budget, Skipped, type SkipReason } from "./DriftCapture/Budget.js"
import { captureFolder, captureName, captureText } from "./DriftCapture/Captures.js"
import { exactProblem, MAX_DEPTH, MAX_VALUES, shapeOf, tooComplex } from "./DriftCapture/Check.js"
import { sampling } from "./DriftCapture/Sampling.js"
import { Metrics } from "./Metrics.js"

/** Notifications waiting for a check, at most (each within CAPTURE_MAX_BODY_BYTES); one more is skipped as `busy`. */
const QUEUE_CAPACITY = 16

/** Synchronous work one check may take in all, in steps of a few ms, each on its own turn of the event loop. */
const CHECK_BUDGET_MS = 100

const why: Record<SkipReason, string> = {
  too_large: "its body is over CAPTURE_MAX_BODY_BYTES",
  too_complex: `it holds more than ${MAX_VALUES} values or nests deeper than ${MAX_DEPTH} levels`,
  too_slow: `its check took more than ${CHECK_BUDGET_MS} ms`,
  busy: `${QUEUE_CAPACITY} notifications were already waiting for a check`,
  sampled: "its shape of drift was captured within CAPTURE_SAMPLE_WINDOW",
  full: "CAPTURE_DIR holds CAPTURE_MAX_FILES files or CAPTURE_MAX_BYTES bytes"
}

/**
 * With `CAPTURE_DIR` set, an accepted notification whose item does not match its generated schema exactly (fields the
 * schema lacks, missing required ones, other types) is saved as a fixture candidate
 * `<CAPTURE_DIR>/<topic>/captured-<id>-<hash>.json` and counted in `schema_drift_total`. Anyone holding the secret
 * can send drift, so the check is bounded: it runs in the background once the notification is accepted (never for a
 * duplicate), one at a time, in short steps between which requests are served, and only on bodies within
 * CAPTURE_MAX_BODY_BYTES and `MAX_VALUES` values; one capture per topic and shape of drift per CAPTURE_SAMPLE_WINDOW,
 * none past CAPTURE_MAX_FILES or CAPTURE_MAX_BYTES.
 * What is not checked or not saved is counted in `schema_drift_skipped_total{reason}`.
 */
export class DriftCapture extends Context.Tag("DriftCapture")<DriftCapture, {
  /** False without CAPTURE_DIR: `inspect` does nothing. */
  readonly enabled: boolean
  /** Queues an accepted notification for a check; returns at once. */
  readonly inspect: (notification: NotificationBytes) => void
}>() {
  static readonly layer = Layer.scoped(
    DriftCapture,
    Effect.gen(function*() {
      const config = yield* ReceiverConfig
      const metrics = yield* Metrics
      if (Option.isNone(config.captureDir)) return DriftCapture.of({ enabled: false, inspect: () => {} })
      const runFork = Runtime.runFork(yield* Effect.runtime<never>())
      const queue = yield* Queue.dropping<NotificationBytes>(QUEUE_CAPACITY)
      const folder = captureFolder(config.captureDir.value, config.captureMaxFiles, config.captureMaxBytes)
      const shapes = sampling(Duration.toMillis(config.captureSampleWindow))
      const logged = new Set<SkipReason>()
      let stopped = false

      const skip = (reason: SkipReason) => {
        metrics.schemaDriftSkipped.inc({ reason })
        if (reason === "sampled" || reason === "full" || logged.has(reason)) return
        logged.add(reason)
        runFork(
          Effect.logWarning("schema drift check skipped").pipe(
            Effect.annotateLogs({ reason, why: `${why[reason]}; later ones are only counted` })
          )
        )
      }

      const room = (size: number) =>
        Effect.flatMap(folder.room(size), ({ fits, usage }) => {
          if (fits) return Effect.void
          const warning = stopped ? Effect.void : Effect.logWarning("schema drift capture stopped").pipe(
            Effect.annotateLogs({ why: why.full, files: usage.files, bytes: usage.bytes })
          )
          stopped = true
          return Effect.zipRight(warning, new Skipped({ reason: "full" }))
        })

      const check = (notification: NotificationBytes) =>
        Effect.gen(function*() {
          const topic = notification.topic!
          const step = budget(CHECK_BUDGET_MS)
          const payload: unknown = yield* step(() => JSON.parse(asBuffer(notification.body).toString("utf8")))
          if (yield* step(() => tooComplex(payload))) return yield* new Skipped({ reason: "too_complex" })
          const problem = yield* step(() => exactProblem[topic](payload))
          if (problem === undefined) return
          metrics.schemaDrift.inc({ topic })
          const shape = `${topic} ${yield* step(() => shapeOf(topic, payload))}`
          if (!shapes.due(shape)) return yield* new Skipped({ reason: "sampled" })
          yield* room(0)
          const text = yield* step(() => captureText(payload, !config.captureRedact))
          yield* room(Buffer.byteLength(text))
          const file = yield* folder.save(topic, captureName(notification.id, notification.body), text)
          shapes.captured(shape)
          stopped = false
          yield* Effect.logInfo("schema drift captured").pipe(Effect.annotateLogs({ topic, problem, file }))
        })

      const notCaptured = (cause: Cause.Cause<unknown>) => {
        const error = Cause.squash(cause)
        return Effect.logWarning("schema drift not captured").pipe(
          Effect.annotateLogs("error", String(error instanceof Cause.UnknownException ? error.error : error))
        )
      }

      yield* Queue.take(queue).pipe(
        Effect.flatMap((notification) =>
          check(notification).pipe(
            Effect.catchTag("Skipped", ({ reason }) => Effect.sync(() => skip(reason))),
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : notCaptured(cause)
            )
          )
        ),
        Effect.forever,
        Effect.tapErrorCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.void
            : Effect.logError("schema drift capture stopped unexpectedly", cause)
        ),
        Effect.forkScoped
      )

      return DriftCapture.of({
        enabled: true,
        inspect: (notification) => {
          if (notification.topic === null) return
          if (notification.body.byteLength > config.captureMaxBodyBytes) return skip("too_large")
          if (!queue.unsafeOffer(notification)) skip("busy")
        }
      })
    })
  )
}
