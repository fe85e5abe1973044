import type Database from "better-sqlite3"
import { Effect, Option, type Scope } from "effect"
import {
  DEAD_LETTER_COLUMNS,
  LOG_COLUMNS,
  type LogRow,
  type NotificationDeadLetterRow,
  PRUNE_BATCH,
  searchStatement,
  sinksText,
  toLogged,
  toLoggedWithBody,
  toNotificationDeadLetter,
  toWaitingDelivery,
  type WaitingRow
} from "./LogStatements.js"
import { type MinuteCount, NotificationLogStore } from "./NotificationLog.js"
import { StoreUnavailable } from "./Outbox.js"
import { startLogWorker } from "./SqliteLogWorker.js"

/** The notification log's file, beside the store's: its writes never lengthen the store's syncs and checkpoints. */
export const logPath = (storePath: string) => `${storePath}.notifications`

const MIGRATION = [
  `CREATE TABLE IF NOT EXISTS notification_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id TEXT,
    topic TEXT,
    intercom_topic TEXT NOT NULL,
    app_id TEXT,
    received_at INTEGER NOT NULL,
    entity TEXT NOT NULL,
    outcome TEXT NOT NULL,
    schema_mismatch TEXT,
    sinks TEXT NOT NULL,
    body BLOB NOT NULL
  )`,
  "CREATE INDEX IF NOT EXISTS notification_log_received ON notification_log (received_at)",
  "CREATE INDEX IF NOT EXISTS notification_log_id ON notification_log (notification_id)",
  "CREATE INDEX IF NOT EXISTS notification_log_entity ON notification_log (entity, received_at)",
  "CREATE INDEX IF NOT EXISTS notification_log_topic ON notification_log (topic, received_at)",
  `CREATE TABLE IF NOT EXISTS notification_minutes (
    minute INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (minute, outcome)
  )`
]

/** In the store's own file: the dead letters of a notification, for its page. */
export const DEAD_LETTERS_BY_NOTIFICATION =
  "CREATE INDEX IF NOT EXISTS dead_letters_notification ON dead_letters (notification_id)"

const INSERT = `INSERT INTO notification_log
(notification_id, topic, intercom_topic, app_id, received_at, entity, outcome, schema_mismatch, sinks, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const COUNT = `INSERT INTO notification_minutes (minute, outcome, count) VALUES (?, ?, ?)
ON CONFLICT (minute, outcome) DO UPDATE SET count = count + excluded.count`

const PRUNE_OLD = `DELETE FROM notification_log WHERE seq IN (
  SELECT seq FROM notification_log WHERE received_at < ? ORDER BY received_at LIMIT ?
)`

/** Those older than the newest `maxRows`, counted by position: seq has gaps (entries pruned by age, out of order). */
const PRUNE_BEYOND = `DELETE FROM notification_log WHERE seq IN (
  SELECT seq FROM notification_log
  WHERE seq <= (SELECT seq FROM notification_log ORDER BY seq DESC LIMIT 1 OFFSET ?)
  ORDER BY seq LIMIT ?
)`

const unavailable = (error: unknown) =>
  new StoreUnavailable({ message: error instanceof Error ? error.message : String(error) })

/**
 * The notification log of the SQLite store: a file of its own (`logPath`) owned by a thread of its own
 * (`SqliteLogWorker`); what a notification's page reads of its deliveries comes from the store (`storeDb`).
 */
export const make = (
  storeDb: Database.Database,
  storePath: string,
  busyTimeoutMs: number
): Effect.Effect<NotificationLogStore["Type"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const worker = yield* startLogWorker({
      path: logPath(storePath),
      busyTimeoutMs,
      migration: MIGRATION,
      insert: INSERT,
      count: COUNT
    })
    const all = <Row>(sql: string, params: ReadonlyArray<unknown>) =>
      worker.call<ReadonlyArray<Row>>({ op: "all", sql, params })
    const run = (sql: string, params: ReadonlyArray<unknown>) => worker.call<number>({ op: "run", sql, params })

    const statements = {
      waiting: storeDb.prepare<[string, string, string | null, number], WaitingRow>(
        `SELECT sink, attempts, next_attempt_at, last_error FROM outbox
        WHERE sink IN (SELECT value FROM json_each(?)) AND delivery_key = ?
        AND notification_id IS ? AND received_at = ? ORDER BY seq`
      ),
      deadById: storeDb.prepare<[string], NotificationDeadLetterRow>(
        `SELECT ${DEAD_LETTER_COLUMNS} FROM dead_letters WHERE notification_id = ? ORDER BY id`
      ),
      deadWithoutId: storeDb.prepare<[string, number], NotificationDeadLetterRow>(
        `SELECT ${DEAD_LETTER_COLUMNS} FROM dead_letters
        WHERE notification_id IS NULL AND delivery_key = ? AND received_at = ? ORDER BY id`
      )
    }

    return NotificationLogStore.of({
      write: (entries, counts) => {
        // One buffer of its own (never Node's shared pool), handed over whole: no copy per body, nothing left behind.
        const bodies = new Uint8Array(entries.reduce((sum, entry) => sum + entry.notification.body.byteLength, 0))
        let offset = 0
        const rows = entries.map(({ notification, outcome, sinks }) => {
          const start = offset
          bodies.set(notification.body, start)
          offset += notification.body.byteLength
          return [
            notification.id,
            notification.topic,
            notification.intercomTopic,
            notification.appId,
            notification.receivedAt.getTime(),
            notification.deliveryKey,
            outcome,
            notification.schemaMismatch ?? null,
            sinksText(sinks),
            start,
            offset
          ]
        })
        return worker.call<void>({
          op: "write",
          entries: rows,
          counts: counts.map(({ count, minute, outcome }) => [minute, outcome, count]),
          bodies: bodies.buffer
        })
      },
      search: (search) => {
        const { params, sql } = searchStatement(search, "sqlite")
        return Effect.map(all<LogRow>(sql, params), (rows) => rows.map(toLogged))
      },
      get: (seq) =>
        Effect.map(
          all<LogRow & { body: Uint8Array }>(`SELECT ${LOG_COLUMNS}, body FROM notification_log WHERE seq = ?`, [seq]),
          (rows) => Option.map(Option.fromNullable(rows[0]), toLoggedWithBody)
        ),
      deliveries: (logged) =>
        Effect.try({
          try: () => ({
            waiting: statements.waiting
              .all(JSON.stringify(logged.sinks), logged.entity, logged.notificationId, logged.receivedAt.getTime())
              .map(toWaitingDelivery),
            deadLetters: (logged.notificationId === null
              ? statements.deadWithoutId.all(logged.entity, logged.receivedAt.getTime())
              : statements.deadById.all(logged.notificationId)).map(toNotificationDeadLetter)
          }),
          catch: unavailable
        }),
      minutes: (since) =>
        all<MinuteCount>("SELECT minute, outcome, count FROM notification_minutes WHERE minute >= ? ORDER BY minute", [
          since
        ]),
      prune: (before, maxRows) =>
        Effect.gen(function*() {
          const old = yield* run(PRUNE_OLD, [before, PRUNE_BATCH])
          const beyond = yield* run(PRUNE_BEYOND, [maxRows, PRUNE_BATCH])
          yield* run("DELETE FROM notification_minutes WHERE minute < ?", [before])
          return old + beyond
        })
    })
  })
