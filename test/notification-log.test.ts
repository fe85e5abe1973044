import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { ConfigProvider, Context, Duration, Effect, Either, Layer, Logger, LogLevel, Option } from "effect"
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { logSettings } from "../src/config/LogConfig.js"
import { trafficOutcome } from "../src/log/NotificationLog.js"
import type { NotificationBytes } from "../src/pipeline/Notification.js"
import type { Outcome } from "../src/pipeline/Receiver.js"
import { sign } from "../src/pipeline/Signature.js"
import { NotificationLogStore } from "../src/store/NotificationLog.js"
import { logPath } from "../src/store/SqliteLog.js"
import * as Store from "../src/store/Store.js"
import { eventually } from "./support/Eventually.js"
import {
  entry,
  fixtureBytes,
  logSearchProperty,
  logSuite,
  notificationOf,
  openStores,
  postgresSettings,
  postgresSettingsOf,
  sqliteSettings,
  sqliteSettingsAt,
  variant
} from "./support/LogSuite.js"
import { databaseUrl, freshDatabase, pgHost, pgPort, queryDatabase } from "./support/Postgres.js"
import { spawnService } from "./support/Service.js"
import { requireService } from "./support/Services.js"
import { startServer } from "./support/TestServer.js"

const up = await requireService("PostgreSQL", pgHost, pgPort)

const root = new URL("..", import.meta.url).pathname
/** The secret `spawnService` starts the service with. */
const SECRET = "test-client-secret"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "notification-log-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

describe("the notification log (SQLite)", () => {
  logSuite(openStores(sqliteSettings))
  logSearchProperty(openStores(sqliteSettings), 30)
})

describe.runIf(up)("the notification log (PostgreSQL)", () => {
  logSuite(openStores(postgresSettings))
  logSearchProperty(openStores(postgresSettings), 12)

  it.scopedLive(
    "sequence values a rolled-back write used (a gap in seq): the count rule keeps maxRows all the same",
    () =>
      Effect.gen(function*() {
        const name = yield* freshDatabase
        const { log } = yield* openStores(Effect.succeed(postgresSettingsOf(name)))
        const write = (from: number, to: number) =>
          log.write(
            Array.from({ length: to - from }, (_, index) =>
              entry(
                notificationOf(
                  variant("ping.json", { id: `notif_seq_${from + index}` }),
                  new Date(Date.UTC(2026, 0, 10) + (from + index) * 1000)
                )
              )),
            []
          )
        yield* write(0, 5)
        // A batch that failed after its rows were inserted (a statement timeout, a lost connection): PostgreSQL does
        // not give its sequence values back.
        yield* queryDatabase(
          name,
          `BEGIN;
          INSERT INTO notification_log
            (notification_id, topic, intercom_topic, app_id, received_at, entity, outcome, sinks, body)
          SELECT 'rolled_back', NULL, 'ping', NULL, 0, 'topic:ping', 'accepted', '', '\\x00'::bytea
          FROM generate_series(1, 3);
          ROLLBACK`
        )
        yield* write(5, 10)
        assert.strictEqual((yield* log.search({ limit: 100 })).length, 10)
        yield* log.prune(0, 8)
        assert.deepStrictEqual(
          (yield* log.search({ limit: 100 })).map((logged) => logged.notificationId),
          [9, 8, 7, 6, 5, 4, 3, 2].map((index) => `notif_seq_${index}`),
          "ten entries, at most eight: the two oldest go"
        )
      })
  )

  it.scopedLive("a running service on PostgreSQL logs what it takes, with its counts", () =>
    Effect.gen(function*() {
      const name = yield* freshDatabase
      const service = yield* spawnService({
        STORE_URL: databaseUrl(name),
        DATA_DIR: yield* tempDir,
        SINKS: "file",
        NOTIFICATION_LOG_RETENTION: "7d"
      })
      const sent = fixtureBytes("conversation-admin-assigned.json")
      assert.strictEqual((yield* post(service.url, sent)).status, 200)
      assert.strictEqual((yield* post(service.url, sent, "sha1=" + "0".repeat(40))).status, 401)
      const rows = yield* eventually(
        "the entry in the log",
        queryDatabase<{ notification_id: string; outcome: string; sinks: string; body: Buffer }>(
          name,
          "SELECT notification_id, outcome, sinks, body FROM notification_log"
        ),
        (found) => found.length === 1
      )
      assert.strictEqual(rows[0]!.notification_id, "notif_4f506172-8394-45a6-9b1c-2d3e4f506178")
      assert.strictEqual(rows[0]!.outcome, "accepted")
      assert.strictEqual(rows[0]!.sinks, "file")
      assert.isTrue(rows[0]!.body.equals(sent))
      const counts = yield* eventually(
        "both requests counted",
        queryDatabase<{ outcome: string; count: number }>(
          name,
          "SELECT outcome, sum(count)::int AS count FROM notification_minutes GROUP BY outcome ORDER BY outcome"
        ),
        (found) => found.reduce((total, row) => total + row.count, 0) === 2
      )
      assert.deepStrictEqual(counts, [{ outcome: "accepted", count: 1 }, { outcome: "refused", count: 1 }])
    }))
})

const accepted = (notification: NotificationBytes): Outcome => ({
  status: "accepted",
  notification,
  sinks: ["file"],
  queued: []
})

describe("what the writer counts a request as, and its settings", () => {
  it("trafficOutcome: refused for a 4xx, failed for a 5xx, mismatch for a notification taken off its schema", () => {
    const matching = notificationOf(fixtureBytes("contact-lead-created.json"), new Date())
    const mismatching = notificationOf(variant("contact-user-created.json", { itemId: 12345 }), new Date())
    assert.isDefined(mismatching.schemaMismatch)
    for (const status of [400, 401, 405, 413, 415]) assert.strictEqual(trafficOutcome(status, undefined), "refused")
    for (const status of [500, 503]) assert.strictEqual(trafficOutcome(status, undefined), "failed")
    assert.strictEqual(trafficOutcome(200, accepted(matching)), "accepted")
    assert.strictEqual(trafficOutcome(200, accepted(mismatching)), "mismatch")
    assert.strictEqual(trafficOutcome(200, { status: "duplicate", notification: matching }), "duplicate")
    assert.strictEqual(trafficOutcome(200, { status: "duplicate", notification: mismatching }), "duplicate")
    const unrouted = { status: "dead_lettered", reason: "no_route" } as const
    assert.strictEqual(trafficOutcome(200, { ...unrouted, notification: matching }), "accepted")
    assert.strictEqual(trafficOutcome(200, { ...unrouted, notification: mismatching }), "mismatch")
  })

  const read = (env: Record<string, string>) =>
    Effect.either(Effect.withConfigProvider(logSettings, ConfigProvider.fromMap(new Map(Object.entries(env)))))

  it.effect("NOTIFICATION_LOG_RETENTION and NOTIFICATION_LOG_MAX_ROWS: defaults, off, bounds, refusals naming the setting", () =>
    Effect.gen(function*() {
      const defaults = Either.getOrThrow(yield* read({}))
      assert.isTrue(Option.isNone(defaults.retention), "without the console, the log is off unless asked for")
      assert.strictEqual(defaults.maxRows, 1_000_000)
      for (
        const env of [{ CONSOLE_TOKEN: "operator-token-0123456789" }, {
          CONSOLE_TOKEN: "operator-token-0123456789",
          NOTIFICATION_LOG_RETENTION: ""
        }]
      ) {
        const withConsole = Either.getOrThrow(yield* read(env))
        assert.deepStrictEqual(Option.map(withConsole.retention, Duration.toMillis), Option.some(7 * 24 * 3_600_000))
      }
      assert.isTrue(
        Option.isNone(
          Either.getOrThrow(
            yield* read({ CONSOLE_TOKEN: "operator-token-0123456789", NOTIFICATION_LOG_RETENTION: "off" })
          )
            .retention
        ),
        "off wins over the console's default"
      )
      assert.isTrue(Option.isNone(Either.getOrThrow(yield* read({ NOTIFICATION_LOG_RETENTION: "off" })).retention))
      const accepted: ReadonlyArray<[string, number]> = [["1h", 3_600_000], ["60m", 3_600_000], [
        "365d",
        365 * 86_400_000
      ], ["36h", 36 * 3_600_000]]
      for (const [text, millis] of accepted) {
        const settings = Either.getOrThrow(yield* read({ NOTIFICATION_LOG_RETENTION: text }))
        assert.deepStrictEqual(Option.map(settings.retention, Duration.toMillis), Option.some(millis), text)
      }
      for (const text of ["1000", "100000000"]) {
        assert.strictEqual(Either.getOrThrow(yield* read({ NOTIFICATION_LOG_MAX_ROWS: text })).maxRows, Number(text))
      }
      for (const text of ["59m", "366d", "0s", "forever", "7 days", "-1h", "OFF"]) {
        const result = yield* read({ NOTIFICATION_LOG_RETENTION: text })
        assert.isTrue(Either.isLeft(result), `retention ${JSON.stringify(text)}`)
        assert.include(
          String(Either.getLeft(result).pipe(Option.getOrThrow)),
          `NOTIFICATION_LOG_RETENTION must be off or a duration from 1h to 365d, got "${text}"`
        )
      }
      for (const text of ["999", "100000001", "1e6", "-5", "lots", "1000.5"]) {
        const result = yield* read({ NOTIFICATION_LOG_MAX_ROWS: text })
        assert.isTrue(Either.isLeft(result), `max rows ${text}`)
        assert.include(
          String(Either.getLeft(result).pipe(Option.getOrThrow)),
          `NOTIFICATION_LOG_MAX_ROWS must be a whole number from 1000 to 100000000, got "${text}"`
        )
      }
    }))
})

const post = (url: string, body: Uint8Array | string, signature?: string) =>
  Effect.promise(async () => {
    const bytes = typeof body === "string" ? Buffer.from(body) : body
    const response = await fetch(`${url}/webhooks/intercom`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature": signature ?? sign(SECRET, bytes) },
      body: bytes
    })
    const text = await response.text()
    let json: Record<string, unknown> = {}
    try {
      json = JSON.parse(text)
    } catch {
      // a refusal may have no JSON body
    }
    return { status: response.status, json }
  })

/** Reads the SQLite store at `path` through a read-only connection of its own, as another process would. */
const readStore = <A>(path: string, read: (db: Database.Database) => A) =>
  Effect.sync(() => {
    const db = new Database(path, { readonly: true, fileMustExist: true })
    try {
      return read(db)
    } finally {
      db.close()
    }
  })

interface LogRowRead {
  readonly notification_id: string | null
  readonly topic: string | null
  readonly intercom_topic: string
  readonly entity: string
  readonly outcome: string
  readonly schema_mismatch: string | null
  readonly sinks: string
  readonly received_at: number
  readonly body: Buffer
}

/**
 * Reads the log's own file as `readStore` does; nothing while the writer's thread has not made it yet (it is made at
 * the first write).
 */
const readLog = <A>(storePath: string, read: (db: Database.Database) => ReadonlyArray<A>) =>
  Effect.suspend(() => existsSync(logPath(storePath)) ? readStore(logPath(storePath), read) : Effect.succeed([])).pipe(
    Effect.catchAllDefect((defect) =>
      /no such table/.test(String(defect)) ? Effect.succeed([] as ReadonlyArray<A>) : Effect.die(defect)
    )
  )

/** The entries of the SQLite store at `storePath`, from the log's own file, in seq order. */
const logRows = (storePath: string) =>
  readLog(storePath, (db) =>
    db.prepare(
      `SELECT notification_id, topic, intercom_topic, entity, outcome, schema_mismatch, sinks, received_at, body
      FROM notification_log ORDER BY seq`
    ).all() as ReadonlyArray<LogRowRead>)

const minuteRows = (storePath: string) =>
  readLog(
    storePath,
    (db) =>
      db.prepare("SELECT minute, outcome, count FROM notification_minutes ORDER BY minute, outcome")
        .all() as ReadonlyArray<
          { minute: number; outcome: string; count: number }
        >
  )

const totals = (rows: ReadonlyArray<{ outcome: string; count: number }>) => {
  const by: Record<string, number> = {}
  for (const row of rows) by[row.outcome] = (by[row.outcome] ?? 0) + row.count
  return by
}

const metric = (url: string, pattern: RegExp) =>
  Effect.promise(async () => {
    const text = await (await fetch(`${url}/metrics`)).text()
    const match = pattern.exec(text)
    return match === null ? undefined : Number(match[1])
  })

/** The environment of a child, without the settings of whoever runs the tests. */
const inherited = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !key.startsWith("INTERCOM_") && !key.startsWith("NOTIFICATION_LOG_"))
)

const runService = (env: Record<string, string>, dataDir: string) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: root,
      timeout: 60_000,
      env: {
        ...inherited,
        HOST: "127.0.0.1",
        PORT: "0",
        DATA_DIR: dataDir,
        INTERCOM_CLIENT_SECRET: SECRET,
        SINKS: "file",
        ...env
      }
    }, (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }))
  )

describe("the notification log of a running service", () => {
  it.scopedLive(
    "a real process logs each notification it takes and counts every request per minute by outcome",
    () =>
      Effect.gen(function*() {
        const dataDir = yield* tempDir
        const storePath = join(dataDir, "receiver.db")
        // Only contacts are routed: a conversation has no route.
        const service = yield* spawnService({
          DATA_DIR: dataDir,
          SINKS: "file",
          ROUTES: "contacts.*=file",
          NOTIFICATION_LOG_RETENTION: "7d"
        })
        const started = Date.now()
        const taken = fixtureBytes("contact-lead-created.json")
        const mismatching = variant("contact-user-created.json", { id: "notif_log_mismatch", itemId: 12345 })
        const unrouted = fixtureBytes("conversation-admin-closed.json")

        const first = yield* post(service.url, taken)
        assert.deepStrictEqual([first.status, first.json.status], [200, "accepted"])
        const again = yield* post(service.url, taken)
        assert.deepStrictEqual([again.status, again.json.status], [200, "duplicate"])
        const forged = yield* post(service.url, fixtureBytes("contact-deleted.json"), sign("another-secret", taken))
        assert.strictEqual(forged.status, 401)
        assert.strictEqual((yield* post(service.url, "{\"type\": \"notification_event\", \"topic\": ")).status, 400)
        const mismatch = yield* post(service.url, mismatching)
        assert.deepStrictEqual([mismatch.status, mismatch.json.status, mismatch.json.schema], [
          200,
          "accepted",
          "mismatch"
        ])
        const noRoute = yield* post(service.url, unrouted)
        assert.deepStrictEqual([noRoute.status, noRoute.json.status, noRoute.json.reason], [
          200,
          "dead_lettered",
          "no_route"
        ])
        const answered = Date.now()

        const rows = yield* eventually("three entries", logRows(storePath), (found) => found.length >= 3)
        const counts = yield* eventually(
          "six requests counted",
          minuteRows(storePath),
          (found) => found.reduce((total, row) => total + row.count, 0) >= 6
        )
        // Two more flushes: nothing else arrives.
        yield* Effect.sleep(Duration.millis(700))
        assert.strictEqual((yield* logRows(storePath)).length, 3)
        assert.deepStrictEqual(yield* minuteRows(storePath), counts)

        assert.deepStrictEqual(
          rows.map(({ body: _body, received_at: _at, schema_mismatch, ...row }) => ({
            ...row,
            mismatch: schema_mismatch !== null
          })),
          [
            {
              notification_id: "notif_a8e2d4f0-1b3c-4d5e-8f90-a1b2c3d4e5f6",
              topic: "contacts.created",
              intercom_topic: "contact.lead.created",
              entity: "contact:6a1f0c2e9b3d4e5f607182aa",
              outcome: "accepted",
              sinks: "file",
              mismatch: false
            },
            {
              notification_id: "notif_log_mismatch",
              topic: "contacts.created",
              intercom_topic: "contact.user.created",
              entity: "contact:12345",
              outcome: "accepted",
              sinks: "file",
              mismatch: true
            },
            {
              notification_id: "notif_728394a5-b6c7-48d9-8e4f-506172839401",
              topic: "conversations.closed",
              intercom_topic: "conversation.admin.closed",
              entity: "conversation:21600000123456",
              outcome: "no_route",
              sinks: "",
              mismatch: false
            }
          ]
        )
        assert.strictEqual(rows[1]!.schema_mismatch, mismatch.json.schema_error)
        for (const [row, body] of [[rows[0]!, taken], [rows[1]!, mismatching], [rows[2]!, unrouted]] as const) {
          assert.isTrue(row.body.equals(body), `the body of ${row.notification_id}`)
          assert.isAtLeast(row.received_at, started)
          assert.isAtMost(row.received_at, answered)
        }

        assert.deepStrictEqual(totals(counts), { accepted: 2, duplicate: 1, mismatch: 1, refused: 2 })
        for (const { minute } of counts) {
          assert.strictEqual(minute % 60_000, 0, "a minute's start")
          assert.isAtLeast(minute, Math.floor(started / 60_000) * 60_000)
          assert.isAtMost(minute, answered)
        }

        assert.strictEqual(
          yield* metric(service.url, /^intercom_webhook_log_entries_total\{outcome="written"\} (\d+)$/m),
          3
        )
        assert.strictEqual(yield* metric(service.url, /^intercom_webhook_log_write_failures_total (\d+)$/m), 0)

        // Stopped, the store read by a tool: the unrouted one's dead letter, the mismatch's reason, the bodies.
        service.process.kill("SIGTERM")
        assert.strictEqual(yield* Effect.promise(() => service.exited), 0)
        const tool = yield* Layer.build(
          Store.layerWith(sqliteSettingsAt(storePath), "tool").pipe(
            Layer.provide(Logger.minimumLogLevel(LogLevel.None))
          )
        )
        const log = Context.get(tool, NotificationLogStore)
        const [loggedUnrouted] = yield* log.search({ topic: "conversation.admin.closed", limit: 10 })
        assert.strictEqual(loggedUnrouted?.outcome, "no_route")
        const record = yield* log.deliveries(loggedUnrouted!)
        assert.deepStrictEqual(record.waiting, [])
        assert.deepStrictEqual(record.deadLetters.map((letter) => [letter.sink, letter.reason]), [[null, "no_route"]])
        const [loggedMismatch] = yield* log.search({ anyOf: { ids: ["notif_log_mismatch"], entities: [] }, limit: 10 })
        assert.strictEqual(loggedMismatch?.schemaMismatch, mismatch.json.schema_error)
        assert.isTrue(Buffer.from(Option.getOrThrow(yield* log.get(loggedMismatch!.seq)).body).equals(mismatching))
        assert.deepStrictEqual(yield* log.deliveries(loggedMismatch!), { waiting: [], deadLetters: [] })
      }),
    60_000
  )

  it.scopedLive(
    "NOTIFICATION_LOG_RETENTION=off: notifications are taken, and neither logged nor counted",
    () =>
      Effect.gen(function*() {
        const dataDir = yield* tempDir
        const storePath = join(dataDir, "receiver.db")
        const service = yield* spawnService({ DATA_DIR: dataDir, SINKS: "file", NOTIFICATION_LOG_RETENTION: "off" })
        assert.strictEqual((yield* post(service.url, fixtureBytes("contact-deleted.json"))).status, 200)
        assert.strictEqual((yield* post(service.url, fixtureBytes("ping.json"))).status, 200)
        assert.strictEqual((yield* post(service.url, "{}", "sha1=bad")).status, 401)
        yield* Effect.sleep(Duration.millis(800))
        assert.isUndefined(
          yield* metric(service.url, /^intercom_webhook_log_entries_total\{outcome="written"\} (\d+)$/m),
          "nothing written"
        )
        // Stopped gracefully: anything the writer held would be written now.
        service.process.kill("SIGTERM")
        assert.strictEqual(yield* Effect.promise(() => service.exited), 0)
        // No log file at all, or one without entries or counts.
        if (existsSync(logPath(storePath))) {
          assert.deepStrictEqual(yield* logRows(storePath), [])
          assert.deepStrictEqual(yield* minuteRows(storePath), [])
        }
        // The notifications were taken: the file sink has them.
        const lines = (yield* Effect.promise(() => readFile(join(dataDir, "events.jsonl"), "utf8"))).trim().split("\n")
        assert.strictEqual(lines.length, 2)
      }),
    60_000
  )

  it.scopedLive(
    "SIGTERM right after an answer: what the writer held is written before the process exits",
    () =>
      Effect.gen(function*() {
        const dataDir = yield* tempDir
        const storePath = join(dataDir, "receiver.db")
        const service = yield* spawnService({ DATA_DIR: dataDir, SINKS: "file", NOTIFICATION_LOG_RETENTION: "7d" })
        // A first request starts the writer's thread; then one answered and SIGTERM at once, inside the 250 ms the
        // writer waits between batches.
        assert.strictEqual((yield* post(service.url, fixtureBytes("contact-deleted.json"))).status, 200)
        yield* eventually("the first entry", logRows(storePath), (found) => found.length === 1)
        const last = fixtureBytes("contact-deleted-external-id.json")
        assert.strictEqual((yield* post(service.url, last)).status, 200)
        service.process.kill("SIGTERM")
        assert.strictEqual(yield* Effect.promise(() => service.exited), 0)
        const rows = yield* logRows(storePath)
        assert.deepStrictEqual(rows.map((row) => row.notification_id), [
          "notif_5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f",
          "notif_6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f90"
        ])
        assert.isTrue(rows[1]!.body.equals(last))
        assert.deepStrictEqual(totals(yield* minuteRows(storePath)), { accepted: 2 })
      }),
    60_000
  )

  it.scopedLive(
    "a store that cannot take a notification (503) is counted failed; a refusal before the body (415) refused",
    () =>
      Effect.gen(function*() {
        const dataDir = yield* tempDir
        const storePath = join(dataDir, "receiver.db")
        const server = yield* startServer({
          SINKS: "http",
          HTTP_FORWARD_URL: "http://127.0.0.1:9/",
          DATA_DIR: dataDir,
          STORE_BUSY_TIMEOUT_MS: "100",
          NOTIFICATION_LOG_RETENTION: "7d"
        })
        const body = fixtureBytes("conversation-admin-assigned.json")
        // The store's file locked by another connection: the outbox cannot commit, the log (a file of its own) can.
        const other = new Database(storePath)
        yield* Effect.addFinalizer(() => Effect.sync(() => other.close()))
        other.exec("BEGIN EXCLUSIVE")
        const locked = yield* server.post(body)
        other.exec("ROLLBACK")
        assert.strictEqual(locked.status, 503, locked.text)
        assert.strictEqual((yield* server.post(body, { contentType: "text/plain" })).status, 415)
        assert.strictEqual((yield* server.post(body)).status, 200, "sent again once the store is back")
        const counts = yield* eventually(
          "three requests counted",
          minuteRows(storePath),
          (found) => found.reduce((total, row) => total + row.count, 0) === 3
        )
        assert.deepStrictEqual(totals(counts), { failed: 1, refused: 1, accepted: 1 })
        const rows = yield* logRows(storePath)
        assert.deepStrictEqual(rows.map((row) => [row.notification_id, row.outcome, row.sinks]), [
          ["notif_4f506172-8394-45a6-9b1c-2d3e4f506178", "accepted", "http"]
        ], "the refused attempt is counted, not logged")
      }),
    60_000
  )

  it.live(
    "an invalid NOTIFICATION_LOG_RETENTION or NOTIFICATION_LOG_MAX_ROWS stops the service: exit 1, one line naming it",
    () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<[Record<string, string>, string]> = [
          [
            { NOTIFICATION_LOG_RETENTION: "30m" },
            "Configuration error: NOTIFICATION_LOG_RETENTION must be off or a duration from 1h to 365d, got \"30m\""
          ],
          [
            { NOTIFICATION_LOG_RETENTION: "forever" },
            "Configuration error: NOTIFICATION_LOG_RETENTION must be off or a duration from 1h to 365d, got \"forever\""
          ],
          [
            { NOTIFICATION_LOG_MAX_ROWS: "999" },
            "Configuration error: NOTIFICATION_LOG_MAX_ROWS must be a whole number from 1000 to 100000000, got \"999\""
          ]
        ]
        const dirs = yield* Effect.all(cases.map(() => tempDir))
        const results = yield* Effect.promise(() =>
          Promise.all(cases.map(([env], index) => runService(env, dirs[index]!)))
        )
        cases.forEach(([, expected], index) => {
          const { code, stderr } = results[index]!
          assert.strictEqual(code, 1, stderr)
          const errors = stderr.split("\n").filter((line) => line.length > 0 && !line.startsWith("{"))
          assert.deepStrictEqual(errors, [expected], stderr)
        })
      }).pipe(Effect.scoped),
    90_000
  )

  it.scopedLive(
    "a write that fails is tried again: nothing lost, nothing counted twice, the notification answered 200",
    () =>
      Effect.gen(function*() {
        const dataDir = yield* tempDir
        const storePath = join(dataDir, "receiver.db")
        const server = yield* startServer({ SINKS: "file", DATA_DIR: dataDir, NOTIFICATION_LOG_RETENTION: "7d" })
        // Another connection takes the log's table away: every write of the log fails until it is back.
        const tableSql = "SELECT sql FROM sqlite_master WHERE tbl_name = 'notification_log' AND sql IS NOT NULL"
        // The table and its four indexes, once the log's thread has made them.
        const schema = yield* eventually(
          "the log's tables",
          Effect.suspend(() =>
            existsSync(logPath(storePath))
              ? readLog(storePath, (db) => db.prepare(tableSql).pluck().all() as ReadonlyArray<string>)
              : Effect.succeed([])
          ),
          (found) => found.length === 5
        )
        const other = new Database(logPath(storePath), { timeout: 5000 })
        yield* Effect.addFinalizer(() => Effect.sync(() => other.close()))
        other.exec("DROP TABLE notification_log")
        const sent = fixtureBytes("conversation-user-created.json")
        const answer = yield* server.post(sent)
        assert.deepStrictEqual([answer.status, answer.json.status], [200, "accepted"], "the log never refuses")
        const failures = /^intercom_webhook_log_write_failures_total (\d+)$/m
        yield* eventually("a failed write", metric(server.baseUrl, failures), (n) => n !== undefined && n >= 1)
        assert.isTrue(
          server.logs.some((line) => line.includes("notification log: cannot write, trying again")),
          server.logs.join("\n")
        )
        assert.deepStrictEqual(yield* minuteRows(storePath), [], "the counts of a failed write are not kept")
        for (const statement of schema) other.exec(statement)
        const rows = yield* eventually(
          "the entry written again",
          logRows(storePath),
          (found) => found.length === 1,
          15_000
        )
        assert.strictEqual(rows[0]!.notification_id, "notif_1c2d3e4f-5061-4273-8e8f-9a0b1c2d3e45")
        assert.isTrue(rows[0]!.body.equals(sent))
        const counts = yield* eventually("the count", minuteRows(storePath), (found) => found.length > 0)
        yield* Effect.sleep(Duration.millis(600))
        assert.deepStrictEqual(totals(yield* minuteRows(storePath)), { accepted: 1 })
        assert.deepStrictEqual(totals(counts), { accepted: 1 })
        assert.strictEqual(
          yield* metric(server.baseUrl, /^intercom_webhook_log_entries_total\{outcome="written"\} (\d+)$/m),
          1
        )
        assert.strictEqual((yield* logRows(storePath)).length, 1, "written once")
      }),
    60_000
  )

  it.scopedLive(
    "the service prunes at start and every minute: older than the retention, beyond the max rows",
    () =>
      Effect.gen(function*() {
        const dataDir = yield* tempDir
        const storePath = join(dataDir, "receiver.db")
        const now = Date.now()
        const minuteNow = Math.floor(now / 60_000) * 60_000
        const ping = (id: string, receivedAt: number) =>
          entry(notificationOf(variant("ping.json", { id }), new Date(receivedAt)), [])
        // Written before the service starts: two entries hours old, then 1003 recent ones, oldest first.
        yield* Effect.scoped(Effect.gen(function*() {
          const { log } = yield* openStores(Effect.succeed(sqliteSettingsAt(storePath)))
          yield* log.write(
            [ping("old_0", now - 3 * 3_600_000), ping("old_1", now - 2 * 3_600_000)],
            [{ minute: minuteNow - 3 * 3_600_000, outcome: "accepted", count: 7 }]
          )
          yield* log.write(
            Array.from({ length: 1003 }, (_, index) => ping(`recent_${index}`, now - 600_000 + index * 100)),
            [{ minute: minuteNow - 600_000, outcome: "accepted", count: 1003 }]
          )
        }))
        yield* startServer({
          SINKS: "file",
          DATA_DIR: dataDir,
          NOTIFICATION_LOG_RETENTION: "1h",
          NOTIFICATION_LOG_MAX_ROWS: "1000"
        })
        const rows = yield* eventually("the prune", logRows(storePath), (found) => found.length === 1000)
        assert.deepStrictEqual(
          rows.map((row) => row.notification_id),
          Array.from({ length: 1000 }, (_, index) => `recent_${index + 3}`)
        )
        assert.deepStrictEqual(
          (yield* minuteRows(storePath)).map((row) => [row.minute, row.count]),
          [[minuteNow - 600_000, 1003]],
          "the counts of minutes older than the retention go"
        )
      }),
    60_000
  )
})
