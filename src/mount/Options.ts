import { Duration, Either, Option, Redacted } from "effect"
import { canonicalTopics } from "../generated/index.js"
import { canonicalTopic } from "../pipeline/Topics.js"
import type { Hooks } from "./Hooks.js"

/** What to configure when the webhook is mounted in an app. */
export interface WebhookOptions {
  /** The app's client secret (Developer Hub, Basic Info); several while rotating. */
  readonly secret: string | ReadonlyArray<string>
  readonly hooks: Hooks
  /**
   * Where accepted notifications wait for the hooks. Absent: the hooks run before the answer (a failure answers 503,
   * which Intercom retries once) and dedupe ids are kept in memory. `{ sqlite: path }` or `{ postgres: url }`: the
   * notification is committed before the 200 and the hooks run from the outbox, with retries and dead letters.
   */
  readonly store?: { readonly sqlite: string } | { readonly postgres: string } | undefined
  /** Larger bodies are answered 413 (default 5 MiB). */
  readonly maxBodyBytes?: number | undefined
  /** How long an id is remembered to answer its copies `duplicate` (default 24 hours). */
  readonly dedupeWindow?: Duration.DurationInput | undefined
  /** With a store: attempts of a failing hook before it becomes a dead letter (default 25). */
  readonly maxAttempts?: number | undefined
  /** Log lines (JSON, on stderr) at this level and above (default `info`). */
  readonly logLevel?: "debug" | "info" | "warning" | "error" | "none" | undefined
}

/** The options checked, in the shape the pipeline's settings take. */
export interface Checked {
  readonly secrets: ReadonlyArray<Redacted.Redacted<string>>
  readonly hooks: Hooks
  readonly store: "memory" | { readonly sqlite: string } | { readonly postgres: Redacted.Redacted<URL> }
  readonly maxBodyBytes: number
  readonly dedupeWindow: Duration.Duration
  readonly maxAttempts: number
  readonly logLevel: "debug" | "info" | "warning" | "error" | "none"
}

const HOOK_KEYS = new Set<string>([...canonicalTopics, "*"])

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const positiveInteger = (name: string, value: unknown, fallback: number): Either.Either<number, string> =>
  value === undefined
    ? Either.right(fallback)
    : typeof value === "number" && Number.isSafeInteger(value) && value > 0
    ? Either.right(value)
    : Either.left(`${name} must be a positive whole number`)

const secretsOf = (secret: unknown): Either.Either<ReadonlyArray<Redacted.Redacted<string>>, string> => {
  const list = typeof secret === "string" ? [secret] : Array.isArray(secret) ? secret : undefined
  if (list === undefined || list.length === 0 || list.some((one) => typeof one !== "string" || one.trim() === "")) {
    return Either.left(
      "secret is required: the app's client secret from the Intercom Developer Hub (Basic Info), or an array of " +
        "non-empty secrets while rotating"
    )
  }
  return Either.right(list.map((one: string) => Redacted.make(one.trim())))
}

const hooksOf = (hooks: unknown): Either.Either<Hooks, string> => {
  if (!isObject(hooks)) return Either.left("hooks must be an object of functions by topic, e.g. { \"ping\": () => {} }")
  for (const [key, value] of Object.entries(hooks)) {
    if (!HOOK_KEYS.has(key)) {
      const canonical = canonicalTopic(key)
      return Either.left(
        `hooks has "${key}", which is not a topic: ` +
          (canonical === null
            ? `use one of ${[...HOOK_KEYS].join(", ")}`
            : `Intercom's "${key}" arrives as "${canonical}", use that key`)
      )
    }
    if (typeof value !== "function") return Either.left(`hooks["${key}"] must be a function`)
  }
  return Either.right(hooks as Hooks)
}

const storeOf = (store: unknown): Either.Either<Checked["store"], string> => {
  if (store === undefined) return Either.right("memory")
  if (isObject(store) && typeof store.sqlite === "string" && store.sqlite !== "" && !("postgres" in store)) {
    return Either.right({ sqlite: store.sqlite })
  }
  if (isObject(store) && typeof store.postgres === "string" && !("sqlite" in store)) {
    try {
      const url = new URL(store.postgres)
      if (url.protocol === "postgres:" || url.protocol === "postgresql:") {
        return Either.right({ postgres: Redacted.make(url) })
      }
    } catch {
      // Said below, without the value: it may hold a password.
    }
    return Either.left("store.postgres must be a postgres:// or postgresql:// URL")
  }
  return Either.left("store must be { sqlite: \"<file path>\" } or { postgres: \"postgres://...\" }")
}

const durationOf = (value: unknown): Either.Either<Duration.Duration, string> => {
  if (value === undefined) return Either.right(Duration.hours(24))
  const duration = Duration.decodeUnknown(value)
  return Option.isSome(duration) && Duration.toMillis(duration.value) >= 1000
    ? Either.right(duration.value)
    : Either.left("dedupeWindow must be a duration of at least 1 second, e.g. \"24 hours\"")
}

const LEVELS = ["debug", "info", "warning", "error", "none"] as const

/** The options, or every problem found in them, each naming the option and what to give. */
export const check = (options: WebhookOptions): Either.Either<Checked, ReadonlyArray<string>> => {
  if (!isObject(options)) return Either.left(["options must be an object with at least secret and hooks"])
  const level = options.logLevel ?? "info"
  const parts = {
    secrets: secretsOf(options.secret),
    hooks: hooksOf(options.hooks),
    store: storeOf(options.store),
    maxBodyBytes: positiveInteger("maxBodyBytes", options.maxBodyBytes, 5 * 1024 * 1024),
    dedupeWindow: durationOf(options.dedupeWindow),
    maxAttempts: positiveInteger("maxAttempts", options.maxAttempts, 25),
    logLevel: LEVELS.includes(level)
      ? Either.right<Checked["logLevel"]>(level)
      : Either.left(`logLevel must be one of ${LEVELS.join(", ")}`)
  }
  // Every problem at once, so that one reading fixes every option.
  const problems = Object.values<Either.Either<unknown, string>>(parts).flatMap((part) =>
    Either.isLeft(part) ? [part.left] : []
  )
  return problems.length > 0 ? Either.left(problems) : Either.mapLeft(Either.all(parts), (problem) => [problem])
}
