import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { redactor, redactText, redactUrl, secretsOf } from "../src/config/Redact.js"
import { sign } from "../src/pipeline/Signature.js"
import { explain } from "../src/sinks/Broker.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { freshDatabase, pgHost, pgPort, queryDatabase } from "./support/Postgres.js"
import { type Service, spawnService } from "./support/Service.js"
import { startTarget } from "./support/Target.js"
import { startTcpProxy } from "./support/TcpProxy.js"
import { SECRET } from "./support/TestServer.js"

const root = new URL("..", import.meta.url).pathname

/** Every secret planted below: none may be shown anywhere. */
const planted = {
  pgUserInfo: "pgUserInfoPw7731",
  pgQuery: "pgQueryPw8842",
  forwardUserInfo: "fwdUserInfoPw5519",
  forwardToken: "fwdTokenVal6620",
  forwardAccessToken: "fwdAccessTok4471",
  forwardKey: "fwdApiKey3382",
  natsPassword: "natsPw2293",
  amqpPassword: "amqpPw1184",
  redisPassword: "redisPw9905",
  configPassword: "cfgPw8816",
  configToken: "cfgTok7727",
  keywordPassword: "kwPw6638"
} as const

/** Where each planted secret shows in `texts` (by place), as `place: secret's name` lines. */
const leaks = (texts: Record<string, string>) =>
  Object.entries(texts).flatMap(([where, text]) =>
    Object.entries(planted).filter(([, secret]) => text.includes(secret)).map(([name]) => `${where}: ${name}`)
  )

/** A port of 127.0.0.1 nothing listens on (it was free a moment ago). */
const closedPort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
)

const contact = loadFixtures().find((fixture) => fixture.topic === "contacts.created")!
let sent = 0

/** A signed notification of its own id, posted to the service; its answer's status and text. */
const post = (service: Service) =>
  Effect.promise(async () => {
    const body = Buffer.from(JSON.stringify({ ...(contact.json as object), id: `notif_redact_${++sent}` }))
    const response = await fetch(`${service.url}/webhooks/intercom`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature": sign(SECRET, body) },
      body
    })
    return {
      status: response.status,
      text: `${response.status} ${JSON.stringify([...response.headers])} ${await response.text()}`
    }
  })

const get = (service: Service, path: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${service.url}${path}`)
    return `${response.status} ${JSON.stringify([...response.headers])} ${await response.text()}`
  })

/** The environment of a process, without the settings of whoever runs the tests. */
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) =>
    !["CONFIG_FILE", "DATA_DIR", "STORE_PATH", "STORE_URL", "INTERCOM_CLIENT_SECRET", "PORT", "SINKS"].includes(key)
  )
)

/** Runs a TypeScript entry point to its end: its exit code and everything it wrote. */
const runToEnd = (script: string, env: Record<string, string>, args: ReadonlyArray<string> = []) =>
  Effect.promise(() =>
    new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--import", "tsx", script, ...args],
        {
          cwd: root,
          env: { ...baseEnv, HOST: "127.0.0.1", PORT: "0", INTERCOM_CLIENT_SECRET: SECRET, ...env },
          timeout: 60_000
        },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : Number(error.code), output: `${stdout}\n${stderr}` })
      )
    })
  )

/** Every row of every table of a test database, as text. */
const databaseText = (name: string) =>
  Effect.gen(function*() {
    const tables = yield* queryDatabase<{ table_name: string }>(
      name,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )
    const rows = yield* Effect.forEach(tables, ({ table_name }) =>
      queryDatabase<{ row: unknown }>(name, `SELECT row_to_json(t)::text AS row FROM "${table_name}" t`))
    return JSON.stringify(rows)
  })

/** The store's files (the SQLite database, its WAL) and the JSONL files of a data folder, as text. */
const dataDirText = (dir: string) =>
  readdirSync(dir).map((file) => `${file}:\n${readFileSync(join(dir, file)).toString("latin1")}`).join("\n")

describe("redactUrl, redactText", () => {
  it("hides the password of user:password@ and the values of secret parameters, in any case, and nothing else", () => {
    const cases: ReadonlyArray<readonly [URL | string, string]> = [
      ["postgres://u:p%40ss@db:5432/r?sslmode=require", "postgres://u:***@db:5432/r?sslmode=require"],
      ["postgres://u:p@ss@db/r", "postgres://u:***@db/r"],
      [
        "postgres://db/r?user=u&password=p&PassWord=q&sslpassword=k",
        "postgres://db/r?user=u&password=***&PassWord=***&sslpassword=***"
      ],
      [
        "https://h/x?token=a&Access_Token=b&api_key=c&apikey=d&key=e&sig=f&Signature=g&secret=h&pass=i&plain=kept",
        "https://h/x?token=***&Access_Token=***&api_key=***&apikey=***&key=***&sig=***&Signature=***&secret=***&pass=***&plain=kept"
      ],
      ["https://h/cb#access_token=a&state=s", "https://h/cb#access_token=***&state=s"],
      [new URL("redis://:pw@127.0.0.1:6379/0"), "redis://:***@127.0.0.1:6379/0"],
      ["amqp://guest:guest@127.0.0.1:5672/%2F?heartbeat=10", "amqp://guest:***@127.0.0.1:5672/%2F?heartbeat=10"],
      ["host=db user=u password=p sslpassword='a b' dbname=r", "host=db user=u password=*** sslpassword=*** dbname=r"],
      ["http//u:pw@h/x?token=t", "http//u:***@h/x?token=***"],
      ["ftp://u:p/w#x@h", "ftp://u:***@h"],
      ["receiver:pa55-word@db", "receiver:***@db"],
      ["https://h/x?email=a@b", "https://h/x?email=a@b"],
      ["nats://127.0.0.1:4222", "nats://127.0.0.1:4222"],
      ["postgres://receiver@db/r?sslmode=require", "postgres://receiver@db/r?sslmode=require"],
      ["https://h/x?key=", "https://h/x?key="]
    ]
    for (const [url, shown] of cases) {
      assert.strictEqual(redactUrl(url), shown, String(url))
      assert.strictEqual(redactUrl(shown), shown, "redacting twice changes nothing")
    }
  })

  it("finds the secrets as written and decoded, and hides them in any text", () => {
    assert.deepStrictEqual(secretsOf("postgres://u:p%40ss@db/r?password=x%20y"), ["p%40ss", "p@ss", "x%20y", "x y"])
    assert.deepStrictEqual(secretsOf("host=db password='a b'"), ["'a b'", "a b"])
    assert.deepStrictEqual(secretsOf("postgres://u@db/r"), [])
    assert.strictEqual(
      redactText("fetch failed (POST http://u:pw@h:9/x?sig=s), then https://h/?token=t.", []),
      "fetch failed (POST http://u:***@h:9/x?sig=***), then https://h/?token=***."
    )
    const redact = redactor("postgres://u:p%40ss-longer@db/r", "https://h/?token=t0k3n-value")
    assert.strictEqual(
      redact("authentication with p@ss-longer failed; token t0k3n-value refused"),
      "authentication with *** failed; token *** refused"
    )
  })

  it("a broker's error names the broker without its secrets, whatever the client library's message holds", () => {
    const explained = explain(
      new URL(`nats://user:${planted.natsPassword}@127.0.0.1:4222?token=${planted.natsPassword}x`)
    )
    assert.strictEqual(
      explained(
        new Error(`login ${planted.natsPassword} refused at nats://user:${planted.natsPassword}@127.0.0.1:4222`)
      ),
      "nats://user:***@127.0.0.1:4222?token=***: login *** refused at nats://user:***@127.0.0.1:4222"
    )
  })
})

describe("redaction: no password or token of a configured URL is shown anywhere", () => {
  it.scopedLive(
    "PostgreSQL store (?password= and user:password@) and forward target (user:password@, ?token=): logs, " +
      "answers, dead letters, replay",
    () =>
      Effect.gen(function*() {
        const database = yield* freshDatabase
        const proxy = yield* startTcpProxy(pgHost, pgPort)
        const target = yield* startTarget((n) => n === 1 ? 503 : 400)
        const dataDir = mkdtempSync(join(tmpdir(), "redact-pg-"))
        const forward = new URL(target.url)
        forward.username = "forwarder"
        forward.password = planted.forwardUserInfo
        forward.search = `?token=${planted.forwardToken}&Access_Token=${planted.forwardAccessToken}&plain=kept`
        const storeUrl =
          `postgres://127.0.0.1:${proxy.port}/${database}?user=postgres&password=${planted.pgQuery}&sslmode=disable`
        const service = yield* spawnService({
          DATA_DIR: dataDir,
          STORE_URL: storeUrl,
          SINKS: "http",
          HTTP_FORWARD_URL: forward.toString(),
          PROBE_INTERVAL: "100ms",
          LOG_FORMAT: "json"
        })
        const answers: Array<string> = []
        const accepted = yield* post(service)
        answers.push(accepted.text)
        assert.strictEqual(accepted.status, 200, accepted.text)
        yield* eventually(
          "the forward target's refusal as a dead letter",
          queryDatabase<{ error: string }>(database, "SELECT error FROM dead_letters"),
          (rows) => rows.length === 1
        )
        answers.push(yield* get(service, "/readyz"), yield* get(service, "/metrics"))

        // The store cut off: every request and readiness check fails on it, and says so in the log.
        proxy.cut()
        const refused = yield* post(service)
        answers.push(refused.text)
        assert.strictEqual(refused.status, 503, refused.text)
        yield* eventually(
          "the store's errors in the log",
          Effect.map(get(service, "/readyz"), (answer) => {
            answers.push(answer)
            return service.stderr()
          }),
          (text) => text.includes("store unavailable") && text.includes("not ready")
        )
        proxy.restore()
        yield* eventually("ready again", get(service, "/readyz"), (text) => text.startsWith("200"))

        const direct = (host: number, query: string) =>
          `postgres://postgres:${planted.pgUserInfo}@127.0.0.1:${host}/${database}${query}`
        const replayed = yield* runToEnd("scripts/replay.ts", { STORE_URL: direct(pgPort, "") }, ["--sink", "http"])
        assert.strictEqual(replayed.code, 0, replayed.output)
        assert.include(replayed.output, "replayed 1 dead letter(s) from PostgreSQL at postgres://postgres:***@")
        const unreachable = yield* runToEnd("scripts/replay.ts", {
          STORE_URL: direct(9, `?password=${planted.pgQuery}`)
        })
        assert.strictEqual(unreachable.code, 1, unreachable.output)
        const noStore = yield* runToEnd("src/main.ts", {
          DATA_DIR: dataDir,
          STORE_URL: `postgres://127.0.0.1:9/${database}?user=postgres&PassWord=${planted.pgQuery}`
        })
        assert.strictEqual(noStore.code, 1, noStore.output)
        assert.include(noStore.output, "StoreUnavailable")

        assert.deepStrictEqual(
          leaks({
            "log": service.stderr(),
            "answers": answers.join("\n"),
            "PostgreSQL store": yield* databaseText(database),
            "data folder": dataDirText(dataDir),
            "replay": replayed.output,
            "replay of an unreachable store": unreachable.output,
            "start on an unreachable store": noStore.output
          }),
          []
        )
        // Redacted, not left out: each place still says where.
        const forwarder = "//forwarder:***@127.0.0.1:"
        assert.include(service.stderr(), "password=***&sslmode=disable")
        assert.include(service.stderr(), forwarder)
        assert.include(service.stderr(), "?token=***&Access_Token=***&plain=kept: answered 503")
        assert.include(yield* databaseText(database), "?token=***&Access_Token=***&plain=kept: answered 400")
        assert.include(readFileSync(join(dataDir, "dead-letter.jsonl"), "utf8"), forwarder)
        assert.include(replayed.output, `PostgreSQL at postgres://postgres:***@127.0.0.1:${pgPort}/${database}`)
        assert.include(unreachable.output, "?password=***")
        assert.include(noStore.output, "PassWord=***")
      }),
    120_000
  )

  it.scopedLive(
    "SQLite store, forward target (user:password@, ?api_key=) and brokers with passwords: logs, answers, dead letters",
    () =>
      Effect.gen(function*() {
        const target = yield* startTarget((n) => n === 1 ? 503 : 400)
        const closed = yield* closedPort
        const dataDir = mkdtempSync(join(tmpdir(), "redact-sqlite-"))
        const forward = new URL(target.url)
        forward.username = "forwarder"
        forward.password = planted.forwardUserInfo
        forward.search = `?api_key=${planted.forwardKey}`
        const service = yield* spawnService({
          DATA_DIR: dataDir,
          SINKS: "http,nats,rabbitmq,redis",
          HTTP_FORWARD_URL: forward.toString(),
          NATS_URL: `nats://natsuser:${planted.natsPassword}@127.0.0.1:${closed}`,
          AMQP_URL: `amqp://amqpuser:${planted.amqpPassword}@127.0.0.1:${closed}/%2F?heartbeat=10`,
          REDIS_URL: `redis://:${planted.redisPassword}@127.0.0.1:${closed}/0`,
          BROKER_TIMEOUT: "500ms",
          PROBE_INTERVAL: "100ms",
          LOG_FORMAT: "json"
        })
        const answers: Array<string> = []
        const accepted = yield* post(service)
        answers.push(accepted.text)
        assert.strictEqual(accepted.status, 200, accepted.text)
        yield* eventually(
          "the forward target's refusal as a dead letter",
          Effect.sync(() => {
            try {
              return readFileSync(join(dataDir, "dead-letter.jsonl"), "utf8")
            } catch {
              return ""
            }
          }),
          (text) => text.includes("answered 400")
        )
        yield* eventually(
          "every broker's failure in the log",
          Effect.sync(() => service.stderr()),
          (text) => ["nats", "rabbitmq", "redis"].every((sink) => text.includes(`"sink":"${sink}"`))
        )
        answers.push(yield* get(service, "/readyz"), yield* get(service, "/metrics"))
        assert.deepStrictEqual(
          leaks({ "log": service.stderr(), "answers": answers.join("\n"), "data folder": dataDirText(dataDir) }),
          []
        )
        const store = readdirSync(dataDir).filter((file) => file.startsWith("receiver.db")).map((file) =>
          readFileSync(join(dataDir, file)).toString("latin1")
        ).join("")
        assert.include(store, "//forwarder:***@127.0.0.1:")
        assert.include(store, "?api_key=***: answered 400")
        for (const broker of ["nats://natsuser:***@", "amqp://amqpuser:***@", "redis://:***@"]) {
          assert.include(service.stderr(), broker)
        }
      }),
    60_000
  )

  it.scopedLive("a forward target that refuses connections: the error in the log and the store", () =>
    Effect.gen(function*() {
      const closed = yield* closedPort
      const dataDir = mkdtempSync(join(tmpdir(), "redact-refused-"))
      const service = yield* spawnService({
        DATA_DIR: dataDir,
        SINKS: "http",
        HTTP_FORWARD_URL:
          `http://forwarder:${planted.forwardUserInfo}@127.0.0.1:${closed}/hooks?sig=${planted.forwardToken}`,
        PROBE_INTERVAL: "100ms",
        MAX_AGE: "1s",
        LOG_FORMAT: "json"
      })
      const accepted = yield* post(service)
      assert.strictEqual(accepted.status, 200, accepted.text)
      yield* eventually(
        "the target's failure in the log",
        Effect.sync(() => service.stderr()),
        (text) => text.includes("sink unavailable")
      )
      assert.deepStrictEqual(leaks({ "log": service.stderr(), "data folder": dataDirText(dataDir) }), [])
      assert.include(service.stderr(), `http://forwarder:***@127.0.0.1:${closed}/hooks?sig=***: connect ECONNREFUSED`)
    }))

  it.live("configuration errors never quote a URL's password or token", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "redact-config-"))
      const configFile = join(dataDir, "config.json")
      writeFileSync(
        configFile,
        JSON.stringify({ SINKS: "http", HTTP_FORWARD_URL: `ftp://u:${planted.configPassword}@h/x?key=k` })
      )
      const runs: ReadonlyArray<Record<string, string>> = [
        { SINKS: "http", HTTP_FORWARD_URL: `ftp://u:${planted.configPassword}@h/x?token=${planted.configToken}` },
        { SINKS: "http", HTTP_FORWARD_URL: `http//u:${planted.configPassword}@h/x?token=${planted.configToken}` },
        { CONFIG_FILE: configFile },
        { STORE_URL: `host=127.0.0.1 user=postgres password=${planted.keywordPassword}` },
        { STORE_URL: `mysql://u:${planted.configPassword}@h/db?password=${planted.configToken}` },
        { SINKS: "nats", NATS_URL: `http://u:${planted.configPassword}@h` },
        { SINKS: "redis", REDIS_URL: `redis://:${planted.configPassword}@` }
      ]
      const results = yield* Effect.forEach(runs, (env) => runToEnd("src/main.ts", { DATA_DIR: dataDir, ...env }), {
        concurrency: 4
      })
      const replay = yield* runToEnd("scripts/replay.ts", {
        STORE_URL: `host=127.0.0.1 user=postgres password=${planted.keywordPassword}`
      })
      assert.deepStrictEqual(
        leaks({
          ...Object.fromEntries(results.map((result, index) => [`start ${index}`, result.output])),
          "replay": replay.output
        }),
        []
      )
      for (const result of results) {
        assert.strictEqual(result.code, 1, result.output)
        assert.include(result.output, "Configuration error", result.output)
      }
      assert.include(results[0]!.output, `got "ftp://u:***@h/x?token=***"`)
      assert.strictEqual(replay.code, 2, replay.output)
    }), 120_000)
})
