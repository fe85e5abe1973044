import { Config, Duration, Either, Option, Redacted } from "effect"
import { redactUrl } from "./Redact.js"
import { duration, integer, invalid, oneOf, parseDuration } from "./Values.js"

/** The `Intercom-Version` values the pinned SDK knows. */
export type IntercomVersion =
  | "1.0"
  | "1.1"
  | "1.2"
  | "1.3"
  | "1.4"
  | "2.0"
  | "2.1"
  | "2.2"
  | "2.3"
  | "2.4"
  | "2.5"
  | "2.6"
  | "2.7"
  | "2.8"
  | "2.9"
  | "2.10"
  | "2.11"
  | "2.12"
  | "2.13"
  | "2.14"
  | "Unstable"

/** A workspace the service reconciles: its key in the store (`default`, or the app id) and its access token. */
export interface Workspace {
  readonly key: string
  readonly token: Redacted.Redacted<string>
}

/** Gap recovery's settings: on when an access token is given (and the mirror sink is on). */
export interface ReconcileSettings {
  readonly workspaces: ReadonlyArray<Workspace>
  readonly apiUrl: URL
  readonly intercomVersion: IntercomVersion
  /** A time without any instance alive longer than this is a gap, swept as soon as an instance is back. */
  readonly gap: Duration.Duration
  /** How often the changes since the last sweep are swept anyway; none: only after gaps. */
  readonly interval: Option.Option<Duration.Duration>
  /** How far before the window's start a sweep reaches: clock skew and the search index's lag. */
  readonly margin: Duration.Duration
  /** How long one sweep may run before it stops to resume later from where it got. */
  readonly budget: Duration.Duration
  /** Which sweeps look for deleted contacts: those after a gap, every one, or none. */
  readonly deletions: "gap" | "always" | "off"
  /** Contacts looked up at once when checking which are gone. */
  readonly concurrency: number
}

export const API_URLS = {
  us: "https://api.intercom.io",
  eu: "https://api.eu.intercom.io",
  au: "https://api.au.intercom.io"
} as const

const TOKEN = /^[\x21-\x7e]{1,4096}$/

const token = (name: string, text: string) =>
  TOKEN.test(text)
    ? Either.right(Redacted.make(text))
    : Either.left(invalid(name, "must be an access token: printable characters without spaces"))

/** `INTERCOM_ACCESS_TOKEN` (one workspace) and `INTERCOM_ACCESS_TOKENS` (`app_id=token,...`, one per workspace). */
const workspaces = Config.all([
  Config.option(Config.redacted("INTERCOM_ACCESS_TOKEN")),
  Config.option(Config.redacted("INTERCOM_ACCESS_TOKENS"))
]).pipe(
  Config.mapOrFail(([single, several]): Either.Either<ReadonlyArray<Workspace>, ReturnType<typeof invalid>> => {
    const one = Option.map(single, (value) => Redacted.value(value).trim()).pipe(Option.filter((text) => text !== ""))
    const many = Option.map(several, (value) => Redacted.value(value).trim()).pipe(Option.filter((text) => text !== ""))
    if (Option.isSome(one) && Option.isSome(many)) {
      return Either.left(
        invalid("INTERCOM_ACCESS_TOKENS", "and INTERCOM_ACCESS_TOKEN are both set: give one token, or one per app_id")
      )
    }
    if (Option.isSome(one)) {
      return Either.map(token("INTERCOM_ACCESS_TOKEN", one.value), (value) => [{ key: "default", token: value }])
    }
    if (Option.isNone(many)) return Either.right([])
    const found: Array<Workspace> = []
    for (const [index, entry] of many.value.split(",").entries()) {
      const at = entry.indexOf("=")
      const key = at < 0 ? "" : entry.slice(0, at).trim()
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(key)) {
        return Either.left(
          invalid("INTERCOM_ACCESS_TOKENS", `entry ${index + 1} must be app_id=token, the app_id of letters and digits`)
        )
      }
      if (found.some((workspace) => workspace.key === key)) {
        return Either.left(invalid("INTERCOM_ACCESS_TOKENS", `names app_id ${key} twice`))
      }
      const value = token(`INTERCOM_ACCESS_TOKENS`, entry.slice(at + 1).trim())
      if (Either.isLeft(value)) return Either.left(value.left)
      found.push({ key, token: value.right })
    }
    return Either.right(found)
  })
)

const apiUrl = Config.string("INTERCOM_API_URL").pipe(
  Config.withDefault(API_URLS.us),
  Config.mapOrFail((text) => {
    const parsed = URL.canParse(text.trim()) ? new URL(text.trim()) : undefined
    if (parsed === undefined || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) {
      return Either.left(
        invalid("INTERCOM_API_URL", `must be an https:// URL such as ${API_URLS.us}, got "${redactUrl(text)}"`)
      )
    }
    if (parsed.username !== "" || parsed.password !== "" || parsed.search !== "") {
      return Either.left(
        invalid("INTERCOM_API_URL", "must not hold a user, password or query: the token goes in INTERCOM_ACCESS_TOKEN")
      )
    }
    return Either.right(parsed)
  })
)

const intercomVersion = Config.string("INTERCOM_VERSION").pipe(
  Config.withDefault("2.14"),
  Config.mapOrFail((text) =>
    /^(1\.[0-4]|2\.([0-9]|1[0-4])|Unstable)$/.test(text.trim())
      ? Either.right(text.trim() as IntercomVersion)
      : Either.left(invalid("INTERCOM_VERSION", `must be an API version from 1.0 to 2.14, or Unstable, got "${text}"`))
  )
)

const interval = Config.string("RECONCILE_INTERVAL").pipe(
  Config.withDefault("15m"),
  Config.mapOrFail((text) => {
    if (text.trim() === "off") return Either.right(Option.none<Duration.Duration>())
    const value = parseDuration(text)
    return value !== undefined &&
        Duration.between(value, { minimum: Duration.seconds(10), maximum: Duration.days(7) })
      ? Either.right(Option.some(value))
      : Either.left(invalid("RECONCILE_INTERVAL", `must be off or a duration from 10s to 7d, got "${text}"`))
  })
)

export const reconcileSettings: Config.Config<ReconcileSettings> = Config.all({
  workspaces,
  apiUrl,
  intercomVersion,
  gap: duration("RECONCILE_GAP", "60s", "1s", "24h"),
  interval,
  margin: duration("RECONCILE_MARGIN", "5m", "1s", "7d"),
  budget: duration("RECONCILE_BUDGET", "10m", "1s", "24h"),
  deletions: oneOf("RECONCILE_DELETIONS", ["gap", "always", "off"] as const, "gap"),
  concurrency: integer("RECONCILE_CONCURRENCY", 4, 1, 64)
})
