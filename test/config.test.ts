import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Option, Redacted } from "effect"
import { execFile, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import * as ConfigFile from "../src/config/ConfigFile.js"
import { settings } from "../src/config/ReceiverConfig.js"
import { redactUrl } from "../src/config/Redact.js"
import { shortSecretWarnings } from "../src/config/Secrets.js"
import { spawnService } from "./support/Service.js"

const read = (env: Record<string, string>) =>
  Effect.either(Effect.withConfigProvider(settings, ConfigProvider.fromMap(new Map(Object.entries(env)))))

const errorOf = (env: Record<string, string>) =>
  Effect.map(read(env), (result) => Either.isLeft(result) ? String(result.left) : "no error")

const root = new URL("..", import.meta.url).pathname
const tsx = join(root, "node_modules/.bin/tsx")

/** The service run with `env` until it exits (a wrong setting stops it at once); its lines that are not JSON logs. */
const startFailing = (env: Record<string, string>) =>
  new Promise<{ code: number; errors: ReadonlyArray<string>; stderr: string }>((resolve) => {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== "CONFIG_FILE"))
    execFile(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: root,
      timeout: 60_000,
      env: {
        ...inherited,
        INTERCOM_CLIENT_SECRET: "test-client-secret",
        HOST: "127.0.0.1",
        PORT: "0",
        DATA_DIR: mkdtempSync(join(tmpdir(), "config-")),
        LOG_FORMAT: "json",
        ...env
      }
    }, (error, _stdout, stderr) =>
      resolve({
        code: error === null ? 0 : Number(error.code),
        errors: stderr.split("\n").filter((line) => line.length > 0 && !line.startsWith("{")),
        stderr
      }))
  })

const base = { INTERCOM_CLIENT_SECRET: "test-client-secret" }

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

  it.effect("no setting switches a protection off: every timeout and delay has a floor above 0, and a ceiling", () =>
    Effect.gen(function*() {
      const refused: ReadonlyArray<[string, string, string]> = [
        ["REQUEST_TIMEOUT", "0ms", "from 1s to 1h"],
        ["HEADERS_TIMEOUT", "0ms", "from 1s to 1h"],
        ["SHUTDOWN_TIMEOUT", "0s", "from 1s to 1h"],
        ["SHUTDOWN_TIMEOUT", "30d", "from 1s to 1h"],
        ["RETRY_BASE_DELAY", "0ms", "from 10ms to 24h"],
        ["RETRY_MAX_DELAY", "0ms", "from 10ms to 24h"],
        ["MAX_AGE", "0s", "from 1s to 365d"],
        ["DEDUPE_WINDOW", "0s", "from 1s to 365d"],
        ["DEDUPE_WINDOW", "500ms", "from 1s to 365d"],
        ["PROBE_INTERVAL", "0ms", "from 100ms to 1h"],
        ["PROBE_INTERVAL", "25d", "from 100ms to 1h"],
        ["RETRY_AFTER_MAX", "0s", "from 1s to 24h"],
        ["BROKER_TIMEOUT", "0ms", "from 100ms to 10m"],
        ["STORE_STATEMENT_TIMEOUT", "0ms", "from 100ms to 10m"],
        ["HTTP_FORWARD_TIMEOUT_MS", "0", "a whole number from 100 to 600000"],
        ["HTTP_FORWARD_TIMEOUT_MS", "50", "a whole number from 100 to 600000"]
      ]
      for (const [name, value, allowed] of refused) {
        assert.include(yield* errorOf({ ...base, [name]: value }), `${name} must be ${allowed}, got "${value}"`)
      }
      const lowest = Either.getOrThrow(
        yield* read({
          ...base,
          REQUEST_TIMEOUT: "1s",
          HEADERS_TIMEOUT: "1s",
          SHUTDOWN_TIMEOUT: "1s",
          RETRY_BASE_DELAY: "10ms",
          RETRY_MAX_DELAY: "10ms",
          MAX_AGE: "1s",
          DEDUPE_WINDOW: "1s",
          PROBE_INTERVAL: "100ms",
          RETRY_AFTER_MAX: "1s",
          BROKER_TIMEOUT: "100ms",
          HTTP_FORWARD_TIMEOUT_MS: "100"
        })
      )
      assert.strictEqual(Duration.toMillis(lowest.dedupeWindow), 1000)
      assert.strictEqual(Duration.toMillis(lowest.headersTimeout), 1000)
    }))

  it.effect("HEADERS_TIMEOUT above REQUEST_TIMEOUT, and RETRY_BASE_DELAY above RETRY_MAX_DELAY, are refused", () =>
    Effect.gen(function*() {
      assert.include(
        yield* errorOf({ ...base, HEADERS_TIMEOUT: "40s", REQUEST_TIMEOUT: "30s" }),
        "HEADERS_TIMEOUT must not be above REQUEST_TIMEOUT (30s), got 40s"
      )
      assert.include(
        yield* errorOf({ ...base, HEADERS_TIMEOUT: "1m" }),
        "HEADERS_TIMEOUT must not be above REQUEST_TIMEOUT (30s), got 1m"
      )
      assert.include(
        yield* errorOf({ ...base, RETRY_BASE_DELAY: "1h", RETRY_MAX_DELAY: "10m" }),
        "RETRY_BASE_DELAY must not be above RETRY_MAX_DELAY (10m), got 1h"
      )
      assert.isTrue(Either.isRight(yield* read({ ...base, HEADERS_TIMEOUT: "30s", REQUEST_TIMEOUT: "30s" })))
      assert.isTrue(Either.isRight(yield* read({ ...base, RETRY_BASE_DELAY: "10m" })))
    }))

  it.effect("WEBHOOK_PATH may not take a built-in endpoint, however it is written", () =>
    Effect.gen(function*() {
      for (
        const [path, taken] of [
          ["/healthz", "/healthz"],
          ["/readyz", "/readyz"],
          ["/metrics", "/metrics"],
          ["/Healthz", "/healthz"],
          ["//metrics", "/metrics"],
          ["/readyz/", "/readyz"]
        ]
      ) {
        assert.include(
          yield* errorOf({ ...base, WEBHOOK_PATH: path! }),
          `WEBHOOK_PATH must not be ${taken}, which the service serves itself (/healthz, /readyz, /metrics), got "${path}"`
        )
      }
      const free = Either.getOrThrow(yield* read({ ...base, WEBHOOK_PATH: "/healthz-intercom" }))
      assert.strictEqual(free.webhookPath, "/healthz-intercom")
    }))

  it.effect("HOST is an IP address or a host name", () =>
    Effect.gen(function*() {
      for (const host of ["0.0.0.0.0", "10.1.2", "", "-lead.example", "two words", "[::1]", "a..b"]) {
        assert.include(
          yield* errorOf({ ...base, HOST: host }),
          `HOST must be an IP address (0.0.0.0, 127.0.0.1, ::) or a host name, got "${host}"`
        )
      }
      for (const host of ["0.0.0.0", "127.0.0.1", "::", "::1", "localhost", "receiver-1.internal"]) {
        assert.strictEqual(Either.getOrThrow(yield* read({ ...base, HOST: host })).host, host)
      }
    }))

  it.effect("INTERCOM_CLIENT_SECRET: an empty entry in the list is named as such; a short secret is warned about", () =>
    Effect.gen(function*() {
      assert.include(
        yield* errorOf({ INTERCOM_CLIENT_SECRET: "first-secret-value,,second-secret-value" }),
        "INTERCOM_CLIENT_SECRET has an empty entry (number 2 of 3): give the secrets separated by single commas"
      )
      assert.include(
        yield* errorOf({ INTERCOM_CLIENT_SECRET: "first-secret-value," }),
        "INTERCOM_CLIENT_SECRET has an empty entry (number 2 of 2)"
      )
      assert.notInclude(yield* errorOf({ INTERCOM_CLIENT_SECRET: "a,,b" }), "is required")
      const config = Either.getOrThrow(yield* read({ INTERCOM_CLIENT_SECRET: "test-client-secret,x7q" }))
      const warnings = shortSecretWarnings(config.secrets)
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "INTERCOM_CLIENT_SECRET number 2 of 2 is shorter than 16 characters")
      assert.notInclude(warnings[0], "x7q")
      assert.deepStrictEqual(shortSecretWarnings([Redacted.make("0123456789abcdef")]), [])
    }))

  it.effect("FORWARD_SIGNING_SECRET: whsec_ must be followed by a base64 key; empty is refused; never shown", () =>
    Effect.gen(function*() {
      const wanted = "FORWARD_SIGNING_SECRET must be whsec_ followed by the key in base64"
      for (
        const [secret, got] of [
          ["whsec_!!!", "got whsec_ and a key that is not base64"],
          ["whsec_s3cr3t key", "got whsec_ and a key that is not base64"],
          ["whsec_a", "got whsec_ and a key that is not base64"],
          ["whsec_ab=", "got whsec_ and a key that is not base64"],
          ["whsec_", "got whsec_ and no key"]
        ]
      ) {
        const refused = yield* errorOf({ ...base, FORWARD_SIGNING_SECRET: secret! })
        assert.include(refused, wanted)
        assert.include(refused, got!)
        assert.notInclude(refused, "s3cr3t")
      }
      assert.include(
        yield* errorOf({ ...base, FORWARD_SIGNING_SECRET: "" }),
        "FORWARD_SIGNING_SECRET is empty: unset it to forward unsigned"
      )
      const key = randomBytes(32)
      for (
        const secret of [
          `whsec_${key.toString("base64")}`,
          `whsec_${key.toString("base64url")}`,
          "whsec_abc",
          "a plain signing string"
        ]
      ) {
        const config = Either.getOrThrow(yield* read({ ...base, FORWARD_SIGNING_SECRET: secret }))
        assert.strictEqual(Option.map(config.forwardSigningSecret, Redacted.value).pipe(Option.getOrThrow), secret)
      }
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
        redactUrl(new URL(url)),
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
      assert.include(yield* errorOf({ ...base, BROKER_TIMEOUT: "10ms" }), "BROKER_TIMEOUT must be from 100ms to 10m")
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

  it.effect("a CONFIG_FILE that is not JSON is refused naming the file and where, never showing its content", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "config-"))
      const errorFor = (name: string, content: string) =>
        Effect.gen(function*() {
          const file = join(dir, name)
          writeFileSync(file, content)
          const saved = { ...process.env }
          process.env.CONFIG_FILE = file
          const result = yield* Effect.either(ConfigFile.provider).pipe(
            Effect.ensuring(Effect.sync(() => (process.env = saved)))
          )
          return { file, message: String(Either.getLeft(result).pipe(Option.getOrThrow)) }
        })
      const passwd = yield* errorFor("passwd", "root:x:0:0:s3cr3t:/root:/bin/bash\n")
      assert.include(passwd.message, `CONFIG_FILE ${passwd.file} is not JSON`)
      assert.notInclude(passwd.message, "root:")
      assert.notInclude(passwd.message, "s3cr3t")
      const broken = yield* errorFor("broken.json", "{\"PORT\": 9000,\n \"SINKS\" \"s3cr3t\"}")
      assert.include(broken.message, `CONFIG_FILE ${broken.file} is not JSON (line 2, column 10)`)
      assert.notInclude(broken.message, "s3cr3t")
      const empty = yield* errorFor("empty.json", "")
      assert.include(empty.message, `CONFIG_FILE ${empty.file} is empty, not JSON`)
    }))

  it.live(
    "a setting the server cannot use stops it with one line and exit 1: no stack, the real cause",
    () =>
      Effect.gen(function*() {
        const taken = createServer()
        const port = yield* Effect.promise(() =>
          new Promise<number>((resolve) =>
            taken.listen(0, "127.0.0.1", () => resolve((taken.address() as { port: number }).port))
          )
        )
        const dir = mkdtempSync(join(tmpdir(), "config-"))
        const notJson = join(dir, "settings.json")
        writeFileSync(notJson, "SINKS=file\nINTERCOM_CLIENT_SECRET=s3cr3t-from-file\n")
        const cases: ReadonlyArray<[Record<string, string>, ReadonlyArray<string>]> = [
          [{ HEADERS_TIMEOUT: "40s", REQUEST_TIMEOUT: "30s" }, [
            "Configuration error: HEADERS_TIMEOUT must not be above REQUEST_TIMEOUT (30s), got 40s"
          ]],
          [{ REQUEST_TIMEOUT: "0ms", HEADERS_TIMEOUT: "0ms" }, [
            "Configuration error: REQUEST_TIMEOUT must be from 1s to 1h, got \"0ms\"",
            "Configuration error: HEADERS_TIMEOUT must be from 1s to 1h, got \"0ms\""
          ]],
          [{ HOST: "0.0.0.0.0" }, [
            "Configuration error: HOST must be an IP address (0.0.0.0, 127.0.0.1, ::) or a host name, got \"0.0.0.0.0\""
          ]],
          [{ HOST: "no-such-host.invalid" }, ["ListenError: cannot listen on no-such-host.invalid:0: getaddrinfo "]],
          [{ PORT: String(port) }, [
            `ListenError: cannot listen on 127.0.0.1:${port}: listen EADDRINUSE: address already in use ` +
            `127.0.0.1:${port} (another process listens there: stop it or choose another PORT)`
          ]],
          [{ CONFIG_FILE: notJson }, [`Configuration error: CONFIG_FILE ${notJson} is not JSON`]],
          [{ WEBHOOK_PATH: "/metrics" }, ["Configuration error: WEBHOOK_PATH must not be /metrics"]]
        ]
        const results = yield* Effect.promise(() => Promise.all(cases.map(([env]) => startFailing(env))))
        taken.close()
        cases.forEach(([, expected], index) => {
          const { code, errors, stderr } = results[index]!
          assert.strictEqual(code, 1, stderr)
          assert.strictEqual(errors.length, expected.length, stderr)
          expected.forEach((line, at) => assert.include(errors[at], line, stderr))
          assert.notInclude(stderr, "    at ", stderr)
          assert.notInclude(stderr, "s3cr3t", stderr)
        })
      }),
    120_000
  )

  it.scopedLive("a client secret too short to be Intercom's is logged as a warning at start, never shown", () =>
    Effect.gen(function*() {
      const service = yield* spawnService({
        INTERCOM_CLIENT_SECRET: "x7q",
        DATA_DIR: mkdtempSync(join(tmpdir(), "config-")),
        LOG_FORMAT: "json"
      })
      const warning = service.stderr().split("\n").filter((line) => line.startsWith("{")).map((line) =>
        JSON.parse(line)
      )
        .find((line) => line.logLevel === "WARN")
      assert.include(warning?.message, "INTERCOM_CLIENT_SECRET number 1 of 1 is shorter than 16 characters")
      assert.notInclude(service.stderr(), "x7q")
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
