import { Config, ConfigError, Context, Duration, Either, Layer, Option, Redacted } from "effect"
import { parseRoutes, type Route } from "../pipeline/Routes.js"

export const sinkNames = ["console", "file", "http", "mirror", "nats", "rabbitmq", "redis"] as const
export type SinkName = (typeof sinkNames)[number]

/** What the store needs: shared by the service and `npm run replay`. */
export interface StoreSettings {
  /** A shared PostgreSQL store (`postgres://...`); absent: the embedded SQLite store at `storePath`. */
  readonly storeUrl: Option.Option<Redacted.Redacted<URL>>
  readonly storePath: string
  readonly storeBusyTimeoutMs: number
  /** PostgreSQL connections per process. */
  readonly storePoolSize: number
  /** How long a PostgreSQL statement, or a wait for a connection, may take before the store counts as unavailable. */
  readonly storeStatementTimeout: Duration.Duration
  readonly dedupeWindow: Duration.Duration
  readonly outboxMaxRows: number
}

export interface ReceiverSettings extends StoreSettings {
  readonly secrets: ReadonlyArray<Redacted.Redacted<string>>
  readonly port: number
  readonly host: string
  readonly webhookPath: string
  readonly sinks: ReadonlyArray<SinkName>
  /** Absent: every notification goes to every sink. */
  readonly routes: Option.Option<ReadonlyArray<Route>>
  readonly dataDir: string
  readonly fileSinkPath: string
  readonly deadLetterPath: string
  readonly forwardUrl: Option.Option<URL>
  readonly forwardSigningSecret: Option.Option<Redacted.Redacted<string>>
  readonly forwardTimeout: Duration.Duration
  readonly maxBodyBytes: number
  /** Bytes of request bodies held at once, across every request. */
  readonly bodyBudgetBytes: number
  /** Open connections; one more is answered 503 and closed at once. */
  readonly maxConnections: number
  readonly consoleFormat: "json" | "pretty"
  readonly maxAttempts: number
  readonly maxAge: Duration.Duration
  readonly retryBaseDelay: Duration.Duration
  readonly retryMaxDelay: Duration.Duration
  /** Deliveries in flight at once per sink in this process, each of a different key. */
  readonly deliveryConcurrency: number
  /** `key`: one key's deliveries in receive order, keys side by side; `receive`: one at a time, in receive order. */
  readonly deliveryOrder: "key" | "receive"
  /** Longest wait between two probes of a sink whose target is unavailable. */
  readonly probeInterval: Duration.Duration
  /** Longest `Retry-After` a sink's target is obeyed for. */
  readonly retryAfterMax: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  readonly requestTimeout: Duration.Duration
  readonly headersTimeout: Duration.Duration
  /** Where notifications that drift from their schema are saved as fixture candidates; off when absent. */
  readonly captureDir: Option.Option<string>
  readonly captureRedact: boolean
  readonly natsUrl: Redacted.Redacted<URL>
  readonly natsStream: string
  /** Subjects are `<prefix>.<topic>`; a stream the sink creates takes `<prefix>.>`. */
  readonly natsSubjectPrefix: string
  readonly amqpUrl: Redacted.Redacted<URL>
  readonly amqpExchange: string
  readonly redisUrl: Redacted.Redacted<URL>
  readonly redisStream: string
  /** `MAXLEN ~` of the Redis stream; absent: unbounded. */
  readonly redisMaxLen: Option.Option<number>
  /** How long a broker sink waits to connect, or for a publish to be acknowledged. */
  readonly brokerTimeout: Duration.Duration
}

const invalid = (name: string, message: string) => ConfigError.InvalidData([name], `${name} ${message}`)

const secrets = Config.option(Config.string("INTERCOM_CLIENT_SECRET")).pipe(
  Config.mapOrFail((value) => {
    const list = Option.getOrElse(value, () => "").split(",").map((secret) => secret.trim())
    return list.some((secret) => secret.length > 0) && list.every((secret) => secret.length > 0)
      ? Either.right(list.map((secret) => Redacted.make(secret)))
      : Either.left(ConfigError.MissingData(
        ["INTERCOM_CLIENT_SECRET"],
        "INTERCOM_CLIENT_SECRET is required: the app's client secret from the Intercom Developer Hub " +
          "(Basic Info); several, comma-separated, while rotating"
      ))
  })
)

const integer = (name: string, fallback: number, min: number, max: number) =>
  Config.string(name).pipe(
    Config.withDefault(String(fallback)),
    Config.mapOrFail((text) => {
      const value = Number(text.trim())
      return /^\d+$/.test(text.trim()) && value >= min && value <= max
        ? Either.right(value)
        : Either.left(invalid(name, `must be a whole number from ${min} to ${max}, got "${text}"`))
    })
  )

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `500ms`, `10s`, `5m`, `24h`, `7d`. */
const duration = (name: string, fallback: string) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) => {
      const match = /^(\d+)\s*(ms|s|m|h|d)$/.exec(text.trim())
      return match === null
        ? Either.left(invalid(name, `must be a duration such as 500ms, 10s, 5m, 24h or 7d, got "${text}"`))
        : Either.right(Duration.millis(Number(match[1]) * UNITS[match[2]!]!))
    })
  )

const oneOf = <A extends string>(name: string, allowed: ReadonlyArray<A>, fallback: A) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) =>
      allowed.includes(text.trim() as A)
        ? Either.right(text.trim() as A)
        : Either.left(invalid(name, `must be one of ${allowed.join(", ")}, got "${text}"`))
    )
  )

const sinks = Config.string("SINKS").pipe(
  Config.withDefault("console,file"),
  Config.mapOrFail((text) => {
    const names = [...new Set(text.split(",").map((name) => name.trim()).filter((name) => name.length > 0))]
    const unknown = names.filter((name) => !sinkNames.includes(name as SinkName))
    if (names.length === 0) return Either.left(invalid("SINKS", `names no sink; allowed: ${sinkNames.join(", ")}`))
    return unknown.length > 0
      ? Either.left(invalid("SINKS", `has unknown sink ${unknown.join(", ")}; allowed: ${sinkNames.join(", ")}`))
      : Either.right(names as ReadonlyArray<SinkName>)
  })
)

const routes = Config.option(Config.string("ROUTES")).pipe(
  Config.mapOrFail((value) =>
    Option.match(value, {
      onNone: () => Either.right(Option.none()),
      onSome: (text) =>
        Either.match(parseRoutes(text), {
          onLeft: (message) => Either.left(invalid("ROUTES", `is invalid: ${message}`)),
          onRight: (parsed) => Either.right(Option.some(parsed))
        })
    })
  )
)

const url = (name: string) =>
  Config.option(Config.string(name)).pipe(
    Config.mapOrFail((value) =>
      Option.match(value, {
        onNone: () => Either.right(Option.none<URL>()),
        onSome: (text) => {
          const parsed = URL.canParse(text) ? new URL(text) : undefined
          return parsed !== undefined && (parsed.protocol === "http:" || parsed.protocol === "https:")
            ? Either.right(Option.some(parsed))
            : Either.left(invalid(name, `must be an http:// or https:// URL, got "${text}"`))
        }
      })
    )
  )

const webhookPath = Config.string("WEBHOOK_PATH").pipe(
  Config.withDefault("/webhooks/intercom"),
  Config.mapOrFail((path) =>
    /^\/[A-Za-z0-9._~\-/]*$/.test(path)
      ? Either.right(path)
      : Either.left(invalid("WEBHOOK_PATH", `must be a path starting with /, got "${path}"`))
  )
)

/** A URL as it may be shown: without its password. */
export const displayUrl = (url: URL): string => {
  const shown = new URL(url)
  if (shown.password !== "") shown.password = "***"
  return shown.toString()
}

/** `postgres://user:password@host:port/database?sslmode=...`; the value is never shown whole (it holds a password). */
const storeUrl = Config.option(Config.redacted("STORE_URL")).pipe(
  Config.mapOrFail((value) => {
    if (Option.isNone(value)) return Either.right(Option.none())
    const text = Redacted.value(value.value).trim()
    if (text === "") return Either.right(Option.none())
    const parsed = URL.canParse(text) ? new URL(text) : undefined
    if (parsed === undefined) {
      return Either.left(
        invalid("STORE_URL", "must be a postgres:// or postgresql:// URL, got a value that is not a URL")
      )
    }
    return parsed.protocol === "postgres:" || parsed.protocol === "postgresql:"
      ? Either.right(Option.some(Redacted.make(parsed)))
      : Either.left(
        invalid("STORE_URL", `must be a postgres:// or postgresql:// URL, got one starting with ${parsed.protocol}//`)
      )
  })
)

/**
 * A broker's URL with one of `protocols`; the value is never shown (it may hold a password), only its scheme.
 */
const brokerUrl = (name: string, protocols: ReadonlyArray<string>, fallback: string) =>
  Config.redacted(name).pipe(
    Config.withDefault(Redacted.make(fallback)),
    Config.mapOrFail((value) => {
      const text = Redacted.value(value).trim()
      const parsed = URL.canParse(text) ? new URL(text) : undefined
      const wanted = `must be a URL starting with ${
        protocols.map((protocol) => `${protocol}//`).join(" or ")
      }, such as ${fallback}`
      if (parsed === undefined) return Either.left(invalid(name, `${wanted}, got a value that is not a URL`))
      if (!protocols.includes(parsed.protocol)) {
        return Either.left(invalid(name, `${wanted}, got one starting with ${parsed.protocol}//`))
      }
      return parsed.hostname === ""
        ? Either.left(invalid(name, `${wanted}, got one without a host`))
        : Either.right(Redacted.make(parsed))
    })
  )

const named = (name: string, fallback: string, pattern: RegExp, allowed: string) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) =>
      pattern.test(text.trim())
        ? Either.right(text.trim())
        : Either.left(invalid(name, `must be ${allowed}, got "${text}"`))
    )
  )

const redisMaxLen = Config.option(Config.string("REDIS_MAXLEN")).pipe(
  Config.mapOrFail((value) => {
    if (Option.isNone(value) || value.value.trim() === "") return Either.right(Option.none<number>())
    const text = value.value.trim()
    return /^\d{1,15}$/.test(text) && Number(text) >= 1
      ? Either.right(Option.some(Number(text)))
      : Either.left(invalid("REDIS_MAXLEN", `must be a whole number of at least 1, or unset, got "${value.value}"`))
  })
)

const dataDir = Config.string("DATA_DIR").pipe(Config.withDefault("./data"))

export const storeSettings: Config.Config<StoreSettings> = Config.all({
  storeUrl,
  storePath: Config.all([Config.option(Config.string("STORE_PATH")), dataDir]).pipe(
    Config.map(([path, dir]) => Option.getOrElse(path, () => `${dir}/receiver.db`))
  ),
  storeBusyTimeoutMs: integer("STORE_BUSY_TIMEOUT_MS", 2000, 0, 60_000),
  storePoolSize: integer("STORE_POOL_SIZE", 10, 1, 1000),
  storeStatementTimeout: duration("STORE_STATEMENT_TIMEOUT", "3s").pipe(
    Config.mapOrFail((timeout) =>
      Duration.greaterThanOrEqualTo(timeout, Duration.millis(100)) &&
        Duration.lessThanOrEqualTo(timeout, Duration.minutes(10))
        ? Either.right(timeout)
        : Either.left(invalid("STORE_STATEMENT_TIMEOUT", `must be from 100ms to 10m, got ${Duration.format(timeout)}`))
    )
  ),
  dedupeWindow: duration("DEDUPE_WINDOW", "24h"),
  outboxMaxRows: integer("OUTBOX_MAX_ROWS", 100_000, 1, 100_000_000)
})

/** Every setting, read with Effect Config; a wrong value fails naming the key and what is allowed. */
export const settings: Config.Config<ReceiverSettings> = Config.all({
  secrets,
  port: integer("PORT", 8080, 0, 65535),
  host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0")),
  webhookPath,
  sinks,
  routes,
  dataDir,
  store: storeSettings,
  fileSinkPath: Config.option(Config.string("FILE_SINK_PATH")),
  deadLetterPath: Config.option(Config.string("DEAD_LETTER_PATH")),
  forwardUrl: url("HTTP_FORWARD_URL"),
  forwardSigningSecret: Config.option(Config.redacted("FORWARD_SIGNING_SECRET")),
  forwardTimeoutMs: integer("HTTP_FORWARD_TIMEOUT_MS", 3000, 1, 600_000),
  maxBodyBytes: integer("MAX_BODY_BYTES", 5 * 1024 * 1024, 1, 1024 * 1024 * 1024),
  bodyBudgetBytes: integer("BODY_BUDGET_BYTES", 64 * 1024 * 1024, 1, 16 * 1024 * 1024 * 1024),
  maxConnections: integer("MAX_CONNECTIONS", 1024, 1, 1_000_000),
  consoleFormat: oneOf("CONSOLE_FORMAT", ["json", "pretty"] as const, "json"),
  maxAttempts: integer("MAX_ATTEMPTS", 25, 1, 10_000),
  maxAge: duration("MAX_AGE", "72h"),
  retryBaseDelay: duration("RETRY_BASE_DELAY", "1s"),
  retryMaxDelay: duration("RETRY_MAX_DELAY", "10m"),
  deliveryConcurrency: integer("DELIVERY_CONCURRENCY", 32, 1, 1024),
  deliveryOrder: oneOf("DELIVERY_ORDER", ["key", "receive"] as const, "key"),
  probeInterval: duration("PROBE_INTERVAL", "5s").pipe(
    Config.mapOrFail((interval) =>
      Duration.greaterThanOrEqualTo(interval, Duration.millis(100))
        ? Either.right(interval)
        : Either.left(invalid("PROBE_INTERVAL", `must be at least 100ms, got ${Duration.format(interval)}`))
    )
  ),
  retryAfterMax: duration("RETRY_AFTER_MAX", "60s"),
  shutdownTimeout: duration("SHUTDOWN_TIMEOUT", "10s"),
  requestTimeout: duration("REQUEST_TIMEOUT", "30s"),
  headersTimeout: duration("HEADERS_TIMEOUT", "10s"),
  captureDir: Config.option(Config.string("CAPTURE_DIR")),
  captureRedact: oneOf("CAPTURE_REDACT", ["true", "false"] as const, "true").pipe(
    Config.map((value) => value === "true")
  ),
  natsUrl: brokerUrl("NATS_URL", ["nats:"], "nats://127.0.0.1:4222"),
  natsStream: named(
    "NATS_STREAM",
    "INTERCOM",
    /^[A-Za-z0-9_-]{1,255}$/,
    "a JetStream stream name: letters, digits, - and _ (no dots, wildcards or spaces)"
  ),
  natsSubjectPrefix: named(
    "NATS_SUBJECT_PREFIX",
    "intercom",
    /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
    "subject tokens of letters, digits, - and _, separated by dots"
  ),
  amqpUrl: brokerUrl("AMQP_URL", ["amqp:", "amqps:"], "amqp://guest:guest@127.0.0.1:5672"),
  amqpExchange: named(
    "AMQP_EXCHANGE",
    "intercom",
    /^(?!amq\.)[A-Za-z0-9_.:-]{1,255}$/,
    "an exchange name: letters, digits, -, _, . and : (not starting with amq., which RabbitMQ reserves)"
  ),
  redisUrl: brokerUrl("REDIS_URL", ["redis:", "rediss:"], "redis://127.0.0.1:6379"),
  redisStream: named("REDIS_STREAM", "intercom", /^\S{1,1024}$/, "a stream key without spaces"),
  redisMaxLen,
  brokerTimeout: duration("BROKER_TIMEOUT", "5s").pipe(
    Config.mapOrFail((timeout) =>
      Duration.greaterThanOrEqualTo(timeout, Duration.millis(100))
        ? Either.right(timeout)
        : Either.left(invalid("BROKER_TIMEOUT", `must be at least 100ms, got ${Duration.format(timeout)}`))
    )
  )
}).pipe(
  Config.mapOrFail(({ deadLetterPath, fileSinkPath, forwardTimeoutMs, store, ...rest }) => {
    if (rest.sinks.includes("http") && Option.isNone(rest.forwardUrl)) {
      return Either.left(
        ConfigError.MissingData(["HTTP_FORWARD_URL"], "HTTP_FORWARD_URL is required when SINKS has http")
      )
    }
    if (rest.bodyBudgetBytes < rest.maxBodyBytes) {
      return Either.left(
        invalid(
          "BODY_BUDGET_BYTES",
          `must be at least MAX_BODY_BYTES (${rest.maxBodyBytes}), or a body of the largest allowed size never fits; ` +
            `got ${rest.bodyBudgetBytes}`
        )
      )
    }
    const enabled = [...rest.sinks, "handlers"]
    for (const route of Option.getOrElse(rest.routes, () => [])) {
      const unknown = route.sinks.filter((name) => !enabled.includes(name))
      if (unknown.length > 0) {
        return Either.left(
          invalid("ROUTES", `sends ${route.pattern} to ${unknown.join(", ")}, which SINKS does not enable`)
        )
      }
    }
    return Either.right({
      ...rest,
      ...store,
      fileSinkPath: Option.getOrElse(fileSinkPath, () => `${rest.dataDir}/events.jsonl`),
      deadLetterPath: Option.getOrElse(deadLetterPath, () => `${rest.dataDir}/dead-letter.jsonl`),
      forwardTimeout: Duration.millis(forwardTimeoutMs)
    })
  })
)

export class ReceiverConfig extends Context.Tag("ReceiverConfig")<ReceiverConfig, ReceiverSettings>() {
  static readonly layer = Layer.effect(ReceiverConfig, settings)
}
