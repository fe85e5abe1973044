import { Config, ConfigError, Context, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import { parseRoutes, type Route } from "../pipeline/Routes.js"
import { host, webhookPath } from "./Listen.js"
import { redactUrl } from "./Redact.js"
import { clientSecrets, shortSecretWarnings, signingSecret } from "./Secrets.js"
import { duration, integer, invalid, oneOf, optionalInteger } from "./Values.js"

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
  /** Deliveries in flight at once per sink in this process, each of a different key; none: each sink's own default. */
  readonly deliveryConcurrency: Option.Option<number>
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
  /** A body larger than this is not checked for drift. */
  readonly captureMaxBodyBytes: number
  /** Files and bytes in `captureDir` beyond which nothing more is captured. */
  readonly captureMaxFiles: number
  readonly captureMaxBytes: number
  /** At most one capture per topic and shape of drift in this time. */
  readonly captureSampleWindow: Duration.Duration
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
            : Either.left(invalid(name, `must be an http:// or https:// URL, got "${redactUrl(text)}"`))
        }
      })
    )
  )

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
  storeStatementTimeout: duration("STORE_STATEMENT_TIMEOUT", "3s", "100ms", "10m"),
  dedupeWindow: duration("DEDUPE_WINDOW", "24h", "1s", "365d"),
  outboxMaxRows: integer("OUTBOX_MAX_ROWS", 100_000, 1, 100_000_000)
})

/** A duration setting that must not exceed another (a request's headers are part of it; a first delay, the largest). */
const notAbove = (value: Duration.Duration, limit: Duration.Duration, name: string, limitName: string) =>
  Duration.greaterThan(value, limit)
    ? invalid(
      name,
      `must not be above ${limitName} (${Duration.format(limit)}), got ${Duration.format(value)}`
    )
    : undefined

/** Every setting, read with Effect Config; a wrong value fails naming the key and what is allowed. */
export const settings: Config.Config<ReceiverSettings> = Config.all({
  secrets: clientSecrets,
  port: integer("PORT", 8080, 0, 65535),
  host,
  webhookPath,
  sinks,
  routes,
  dataDir,
  store: storeSettings,
  fileSinkPath: Config.option(Config.string("FILE_SINK_PATH")),
  deadLetterPath: Config.option(Config.string("DEAD_LETTER_PATH")),
  forwardUrl: url("HTTP_FORWARD_URL"),
  forwardSigningSecret: signingSecret,
  forwardTimeoutMs: integer("HTTP_FORWARD_TIMEOUT_MS", 3000, 100, 600_000),
  maxBodyBytes: integer("MAX_BODY_BYTES", 5 * 1024 * 1024, 1, 1024 * 1024 * 1024),
  bodyBudgetBytes: integer("BODY_BUDGET_BYTES", 64 * 1024 * 1024, 1, 16 * 1024 * 1024 * 1024),
  maxConnections: integer("MAX_CONNECTIONS", 1024, 1, 1_000_000),
  consoleFormat: oneOf("CONSOLE_FORMAT", ["json", "pretty"] as const, "json"),
  maxAttempts: integer("MAX_ATTEMPTS", 25, 1, 10_000),
  maxAge: duration("MAX_AGE", "72h", "1s", "365d"),
  retryBaseDelay: duration("RETRY_BASE_DELAY", "1s", "10ms", "24h"),
  retryMaxDelay: duration("RETRY_MAX_DELAY", "10m", "10ms", "24h"),
  deliveryConcurrency: optionalInteger("DELIVERY_CONCURRENCY", 1, 1024),
  deliveryOrder: oneOf("DELIVERY_ORDER", ["key", "receive"] as const, "key"),
  probeInterval: duration("PROBE_INTERVAL", "5s", "100ms", "1h"),
  retryAfterMax: duration("RETRY_AFTER_MAX", "60s", "1s", "24h"),
  shutdownTimeout: duration("SHUTDOWN_TIMEOUT", "10s", "1s", "1h"),
  requestTimeout: duration("REQUEST_TIMEOUT", "30s", "1s", "1h"),
  headersTimeout: duration("HEADERS_TIMEOUT", "10s", "1s", "1h"),
  captureDir: Config.option(Config.string("CAPTURE_DIR")),
  captureRedact: oneOf("CAPTURE_REDACT", ["true", "false"] as const, "true").pipe(
    Config.map((value) => value === "true")
  ),
  captureMaxBodyBytes: integer("CAPTURE_MAX_BODY_BYTES", 256 * 1024, 1024, 64 * 1024 * 1024),
  captureMaxFiles: integer("CAPTURE_MAX_FILES", 1000, 1, 1_000_000),
  captureMaxBytes: integer("CAPTURE_MAX_BYTES", 50 * 1024 * 1024, 1, 1024 * 1024 * 1024 * 1024),
  captureSampleWindow: duration("CAPTURE_SAMPLE_WINDOW", "1h", "1s", "365d"),
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
  brokerTimeout: duration("BROKER_TIMEOUT", "5s", "100ms", "10m")
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
    const disordered = notAbove(rest.headersTimeout, rest.requestTimeout, "HEADERS_TIMEOUT", "REQUEST_TIMEOUT") ??
      notAbove(rest.retryBaseDelay, rest.retryMaxDelay, "RETRY_BASE_DELAY", "RETRY_MAX_DELAY")
    if (disordered !== undefined) return Either.left(disordered)
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
  /** Warns, at start, of a client secret too short to be Intercom's (see `MIN_CLIENT_SECRET_LENGTH`). */
  static readonly layer = Layer.effect(
    ReceiverConfig,
    Effect.tap(
      settings,
      (config) =>
        Effect.forEach(shortSecretWarnings(config.secrets), (warning) => Effect.logWarning(warning), { discard: true })
    )
  )
}
