import { Context, Effect, Layer, Option, Runtime } from "effect"
import { createHash } from "node:crypto"
import { mkdir, rename, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { ReceiverConfig } from "../config/ReceiverConfig.js"
import type { CanonicalTopic } from "../generated/index.js"
import type { Notification } from "../pipeline/Notification.js"
import { schemaChecks } from "../pipeline/ParseProblem.js"
import { Metrics } from "./Metrics.js"

const PERSONAL = /^(email|name|first_name|last_name|pseudonym|phone)$/i

/** Real notifications nest a dozen levels; a capture stops at this depth rather than recurse without bound. */
const MAX_DEPTH = 64

/**
 * A copy of the value to save, with every personal field (email, names, phone) replaced when `personal` is false;
 * throws past `MAX_DEPTH` levels.
 */
export const captureCopy = (value: unknown, personal = false, depth = 0): unknown => {
  if (depth > MAX_DEPTH) throw new Error(`nested deeper than ${MAX_DEPTH} levels`)
  if (Array.isArray(value)) return value.map((element) => captureCopy(element, personal, depth + 1))
  if (typeof value !== "object" || value === null) return value
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [
      key,
      !personal && PERSONAL.test(key) && typeof field === "string"
        ? `redacted-${key.toLowerCase()}`
        : captureCopy(field, personal, depth + 1)
    ])
  )
}

/** Each topic's schema without "preserve": decoding fails on any field the fixtures never showed. */
const exactChecks = schemaChecks({ onExcessProperty: "error", errors: "all" })

/**
 * With `CAPTURE_DIR` set, a verified notification whose item does not match its generated schema exactly (fields
 * the schema lacks, missing required ones, other types) is saved as a fixture candidate
 * `<CAPTURE_DIR>/<topic>/captured-<id>.json`, off the request path, and counted in `schema_drift_total`.
 */
export class DriftCapture extends Context.Tag("DriftCapture")<DriftCapture, {
  /** Starts saving the notification in the background when it is a fixture candidate. */
  readonly inspect: (notification: Notification) => void
}>() {
  static readonly layer = Layer.effect(
    DriftCapture,
    Effect.gen(function*() {
      const { captureDir, captureRedact } = yield* ReceiverConfig
      const metrics = yield* Metrics
      if (Option.isNone(captureDir)) return DriftCapture.of({ inspect: () => {} })
      const runFork = Runtime.runFork(yield* Effect.runtime<never>())

      const save = (topic: CanonicalTopic, notification: Notification, problem: string) =>
        Effect.tryPromise(async () => {
          const name = notification.id ?? createHash("sha256").update(notification.body).digest("hex").slice(0, 16)
          const folder = join(captureDir.value, topic)
          const payload = captureCopy(notification.payload, !captureRedact)
          const file = join(folder, `captured-${name.replace(/[^\w.-]/g, "_")}.json`)
          await mkdir(folder, { recursive: true })
          // Written aside, then renamed: a capture is never seen half-written.
          await writeFile(`${file}.partial`, JSON.stringify(payload, null, 2) + "\n")
          await rename(`${file}.partial`, file)
        }).pipe(
          Effect.zipRight(Effect.logInfo("schema drift captured").pipe(Effect.annotateLogs({ topic, problem }))),
          Effect.catchAll((error) =>
            Effect.logWarning("schema drift not captured").pipe(Effect.annotateLogs("error", String(error)))
          )
        )

      return DriftCapture.of({
        inspect: (notification) => {
          const topic = notification.topic
          if (topic === null) return
          const problem = exactChecks[topic](notification.payload)
          if (problem === undefined) return
          metrics.schemaDrift.inc({ topic })
          runFork(save(topic, notification, problem))
        }
      })
    })
  )
}
