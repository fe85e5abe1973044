import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Option, Redacted } from "effect"
import { execFile, spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import * as ConfigFile from "../src/config/ConfigFile.js"
import { displayUrl, settings } from "../src/config/ReceiverConfig.js"

const read = (env: Record<string, string>) =>
  Effect.either(Effect.withConfigProvider(settings, ConfigProvider.fromMap(new Map(Object.entries(env)))))

const errorOf = (env: Record<string, string>) =>
  Effect.map(read(env), (result) => Either.isLeft(result) ? String(result.left) : "no error")

const root = new URL("..", import.meta.url).pathname
const tsx = join(root, "node_modules/.bin/tsx")

describe("configuration", () => {
  it.effect("defaults serve a first run: console and file sinks under ./data, port 8080", () =>
    Effect.gen(function*() {
      const config = Either.getOrThrow(yield* read({ INTERCOM_CLIENT_SECRET: "s" }))
      assert.deepStrictEqual(config.sinks, ["console", "file"])
      assert.strictEqual(config.port, 8080)
      assert.strictEqual(config.host, "0.0.0.0")
      assert.strictEqual(config.webhookPath, "/webhooks/intercom")
      assert.strictEqual(config.fileSinkPath, "./data/events.jsonl")
      assert.strictEqual(config.deadLetterPath, "./data/dead-letter.jsonl")
      assert.strictEqual(config.maxBodyBytes, 5 * 1024 * 1024)
      assert.isTrue(Option.isNone(config.routes))
      assert.strictEqual(Duration.toMillis(config.forwardTimeout), 3000)
    }))

  it.effect("several secrets, comma-separated, are kept redacted", () =>
    Effect.gen(function*() {
      const config = Either.getOrThrow(yield* read({ INTERCOM_CLIENT_SECRET: "old-one, new-one" }))
      assert.deepStrictEqual(config.secrets.map(Redacted.value), ["old-one", "new-one"])
      assert.notInclude(String(config.secrets[0]), "old-one")
    }))

  it.effect("a wrong value is refused, naming the key and what is allowed", () =>
    Effect.gen(function*() {
      const base = { INTERCOM_CLIENT_SECRET: "s" }
      assert.include(yield* errorOf({}), "INTERCOM_CLIENT_SECRET is required")
      assert.include(yield* errorOf({ INTERCOM_CLIENT_SECRET: " , " }), "INTERCOM_CLIENT_SECRET is required")
      assert.include(yield* errorOf({ ...base, PORT: "80a" }), `PORT must be a whole number from 0 to 65535, got "80a"`)
      assert.include(yield* errorOf({ ...base, SINKS: "file,kafka" }), "SINKS has unknown sink kafka")
      assert.include(yield* errorOf({ ...base, SINKS: "http" }), "HTTP_FORWARD_URL is required when SINKS has http")
      assert.include(
        yield* errorOf({ ...base, SINKS: "http", HTTP_FORWARD_URL: "ftp://x" }),
        "HTTP_FORWARD_URL must be an http:// or https:// URL"
      )
      assert.include(yield* errorOf({ ...base, ROUTES: "ping=http" }), "ROUTES sends ping to http, which SINKS")
      assert.include(yield* errorOf({ ...base, ROUTES: "ping" }), "is not of the form pattern=sink,sink")
      assert.include(yield* errorOf({ ...base, ROUTES: "con*=file" }), "is not a topic, a prefix ending in .* or *")
      assert.include(yield* errorOf({ ...base, CONSOLE_FORMAT: "xml" }), "CONSOLE_FORMAT must be one of json, pretty")
      assert.include(yield* errorOf({ ...base, MAX_BODY_BYTES: "0" }), "MAX_BODY_BYTES must be a whole number")
      assert.include(yield* errorOf({ ...base, WEBHOOK_PATH: "hooks" }), "WEBHOOK_PATH must be a path starting with /")
    }))

  it.effect("the store: SQLite unless STORE_URL names a PostgreSQL, whose password is never shown", () =>
    Effect.gen(function*() {
      const base = { INTERCOM_CLIENT_SECRET: "s" }
      const embedded = Either.getOrThrow(yield* read(base))
      assert.isTrue(Option.isNone(embedded.storeUrl))
      assert.strictEqual(embedded.storePath, "./data/receiver.db")
      assert.strictEqual(embedded.storePoolSize, 10)
      assert.strictEqual(Duration.toMillis(embedded.storeStatementTimeout), 3000)

      const url = "postgresql://receiver:pa55-word@db.internal:5433/receiver?sslmode=require"
      const shared = Either.getOrThrow(
        yield* read({ ...base, STORE_URL: url, STORE_POOL_SIZE: "4", STORE_STATEMENT_TIMEOUT: "500ms" })
      )
      assert.strictEqual(
        Option.map(shared.storeUrl, (value) => Redacted.value(value).toString()).pipe(Option.getOrThrow),
        url
      )
      assert.notInclude(String(shared.storeUrl), "pa55-word")
      assert.strictEqual(
        displayUrl(new URL(url)),
        "postgresql://receiver:***@db.internal:5433/receiver?sslmode=require"
      )
      assert.strictEqual(shared.storePoolSize, 4)
      assert.strictEqual(Duration.toMillis(shared.storeStatementTimeout), 500)

      const refused = yield* errorOf({ ...base, STORE_URL: "mysql://receiver:pa55-word@db/receiver" })
      assert.include(refused, "STORE_URL must be a postgres:// or postgresql:// URL, got one starting with mysql://")
      assert.notInclude(refused, "pa55-word")
      const garbled = yield* errorOf({ ...base, STORE_URL: "receiver:pa55-word@db" })
      assert.include(garbled, "STORE_URL must be a postgres:// or postgresql:// URL")
      assert.notInclude(garbled, "pa55-word")
      assert.include(
        yield* errorOf({ ...base, STORE_POOL_SIZE: "0" }),
        `STORE_POOL_SIZE must be a whole number from 1 to 1000, got "0"`
      )
      assert.include(
        yield* errorOf({ ...base, STORE_STATEMENT_TIMEOUT: "soon" }),
        "STORE_STATEMENT_TIMEOUT must be a duration"
      )
      assert.include(
        yield* errorOf({ ...base, STORE_STATEMENT_TIMEOUT: "10ms" }),
        "STORE_STATEMENT_TIMEOUT must be from 100ms to 10m"
      )
    }))

  it.effect("broker sinks: local defaults; a wrong URL or name refused saying what to fix, never showing a password", () =>
    Effect.gen(function*() {
      const base = { INTERCOM_CLIENT_SECRET: "s" }
      const defaults = Either.getOrThrow(yield* read({ ...base, SINKS: "nats,rabbitmq,redis" }))
      assert.deepStrictEqual(defaults.sinks, ["nats", "rabbitmq", "redis"])
      assert.strictEqual(Redacted.value(defaults.natsUrl).toString(), "nats://127.0.0.1:4222")
      assert.strictEqual(defaults.natsStream, "INTERCOM")
      assert.strictEqual(defaults.natsSubjectPrefix, "intercom")
      assert.strictEqual(Redacted.value(defaults.amqpUrl).toString(), "amqp://guest:guest@127.0.0.1:5672")
      assert.strictEqual(defaults.amqpExchange, "intercom")
      assert.strictEqual(Redacted.value(defaults.redisUrl).toString(), "redis://127.0.0.1:6379")
      assert.strictEqual(defaults.redisStream, "intercom")
      assert.isTrue(Option.isNone(defaults.redisMaxLen))
      assert.strictEqual(Duration.toMillis(defaults.brokerTimeout), 5000)
      const set = Either.getOrThrow(yield* read({ ...base, REDIS_MAXLEN: "100000", BROKER_TIMEOUT: "2s" }))
      assert.deepStrictEqual(set.redisMaxLen, Option.some(100000))
      assert.strictEqual(Duration.toMillis(set.brokerTimeout), 2000)

      const refused = yield* errorOf({ ...base, AMQP_URL: "http://user:s3cret-pw@mq:5672" })
      assert.include(
        refused,
        "AMQP_URL must be a URL starting with amqp:// or amqps://, such as amqp://guest:guest@127.0.0.1:5672"
      )
      assert.include(refused, "got one starting with http://")
      assert.notInclude(refused, "s3cret-pw")
      const garbled = yield* errorOf({ ...base, REDIS_URL: ":s3cret-pw@cache" })
      assert.include(
        garbled,
        "REDIS_URL must be a URL starting with redis:// or rediss://, such as redis://127.0.0.1:6379"
      )
      assert.notInclude(garbled, "s3cret-pw")
      assert.include(
        yield* errorOf({ ...base, NATS_URL: "127.0.0.1:4222" }),
        "NATS_URL must be a URL starting with nats://"
      )
      assert.include(yield* errorOf({ ...base, NATS_URL: "nats://" }), "got one without a host")
      assert.include(yield* errorOf({ ...base, NATS_STREAM: "intercom.events" }), "NATS_STREAM must be a JetStream")
      assert.include(
        yield* errorOf({ ...base, NATS_SUBJECT_PREFIX: "intercom.>" }),
        "NATS_SUBJECT_PREFIX must be subject tokens"
      )
      assert.include(yield* errorOf({ ...base, AMQP_EXCHANGE: "amq.topic" }), "which RabbitMQ reserves")
      assert.include(yield* errorOf({ ...base, REDIS_STREAM: "a b" }), "REDIS_STREAM must be a stream key")
      assert.include(
        yield* errorOf({ ...base, REDIS_MAXLEN: "0" }),
        `REDIS_MAXLEN must be a whole number of at least 1, or unset, got "0"`
      )
      assert.include(yield* errorOf({ ...base, BROKER_TIMEOUT: "10ms" }), "BROKER_TIMEOUT must be at least 100ms")
    }))

  it.effect("CONFIG_FILE supplies settings, and the environment wins over it", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "config-"))
      const file = join(dir, "receiver.json")
      writeFileSync(file, JSON.stringify({ INTERCOM_CLIENT_SECRET: "from-file", PORT: 9100, SINKS: "file" }))
      const saved = { ...process.env }
      process.env.CONFIG_FILE = file
      process.env.SINKS = "console"
      delete process.env.INTERCOM_CLIENT_SECRET
      delete process.env.PORT
      const config = yield* ConfigFile.provider.pipe(
        Effect.flatMap((provider) => Effect.withConfigProvider(settings, provider)),
        Effect.ensuring(Effect.sync(() => (process.env = saved)))
      )
      assert.deepStrictEqual(config.secrets.map(Redacted.value), ["from-file"])
      assert.strictEqual(config.port, 9100)
      assert.deepStrictEqual(config.sinks, ["console"])
    }))

  it.effect("a CONFIG_FILE that is not a JSON object of settings is refused, naming the file", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "config-"))
      const file = join(dir, "bad.json")
      writeFileSync(file, "{ \"PORT\": { \"nested\": 1 } }")
      const saved = { ...process.env }
      process.env.CONFIG_FILE = file
      const result = yield* Effect.either(ConfigFile.provider).pipe(
        Effect.ensuring(Effect.sync(() => (process.env = saved)))
      )
      assert.isTrue(Either.isLeft(result))
      assert.include(
        String(Either.getLeft(result).pipe(Option.getOrThrow)),
        `CONFIG_FILE ${file} must hold one JSON object`
      )
    }))

  it.live("the service refuses to start without a secret: exit 1 and a message naming the variable", () =>
    Effect.promise(async () => {
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([key]) => key !== "INTERCOM_CLIENT_SECRET" && key !== "CONFIG_FILE")
      )
      const result = await promisify(execFile)(tsx, ["src/main.ts"], { cwd: root, env }).then(
        () => ({ code: 0, stderr: "" }),
        (error: { code: number; stderr: string }) => error
      )
      assert.strictEqual(result.code, 1)
      assert.include(result.stderr, "Configuration error: INTERCOM_CLIENT_SECRET is required")
    }))

  it.live(
    "npm start builds the bundle and runs it: it answers /healthz and exits 0 on SIGTERM",
    () =>
      Effect.promise(async () => {
        const dataDir = mkdtempSync(join(tmpdir(), "process-"))
        const child = spawn("npm", ["start", "--silent"], {
          cwd: root,
          env: { ...process.env, INTERCOM_CLIENT_SECRET: "s", PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir }
        })
        let stderr = ""
        const listening = await new Promise<string>((resolve, reject) => {
          child.stderr.on("data", (chunk: Buffer) => {
            stderr += chunk.toString()
            const match = /Listening on (http:\/\/[\d.]+:\d+)/.exec(stderr)
            if (match) resolve(match[1]!)
          })
          child.once("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)))
        })
        const health = await fetch(`${listening}/healthz`)
        assert.strictEqual(health.status, 200)
        const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
        child.kill("SIGTERM")
        assert.strictEqual(await exited, 0)
      }),
    180_000
  )
})
