import type Database from "better-sqlite3"
import { Effect, Option } from "effect"
import { asBuffer } from "../pipeline/Notification.js"
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

export const LOG_MIGRATION = [
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
  )`,
  "CREATE INDEX IF NOT EXISTS dead_letters_notification ON dead_letters (notification_id)"
]

const unavailable = (error: unknown) =>
  new StoreUnavailable({ message: error instanceof Error ? error.message : String(error) })

const attempt = <A>(work: () => A): Effect.Effect<A, StoreUnavailable> => Effect.try({ try: work, catch: unavailable })

/** The notification log in the service's SQLite store: synchronous statements, each short (see `PRUNE_BATCH`). */
export const make = (db: Database.Database): NotificationLogStore["Type"] => {
  const statements = {
    insert: db.prepare(
      `INSERT INTO notification_log
      (notification_id, topic, intercom_topic, app_id, received_at, entity, outcome, schema_mismatch, sinks, body)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
    ),
    count: db.prepare(
      `INSERT INTO notification_minutes (minute, outcome, count) VALUES (?, ?, ?)
      ON CONFLICT (minute, outcome) DO UPDATE SET count = count + excluded.count`
    ),
    get: db.prepare<[number], LogRow & { body: Buffer }>(
      `SELECT ${LOG_COLUMNS}, body FROM notification_log WHERE seq = ?`
    ),
    waiting: db.prepare<[string, string, string | null, number], WaitingRow>(
      `SELECT sink, attempts, next_attempt_at, last_error FROM outbox
      WHERE sink IN (SELECT value FROM json_each(?)) AND delivery_key = ?
      AND notification_id IS ? AND received_at = ? ORDER BY seq`
    ),
    deadById: db.prepare<[string], NotificationDeadLetterRow>(
      `SELECT ${DEAD_LETTER_COLUMNS} FROM dead_letters WHERE notification_id = ? ORDER BY id`
    ),
    deadWithoutId: db.prepare<[string, number], NotificationDeadLetterRow>(
      `SELECT ${DEAD_LETTER_COLUMNS} FROM dead_letters
      WHERE notification_id IS NULL AND delivery_key = ? AND received_at = ? ORDER BY id`
    ),
    minutes: db.prepare<[number], MinuteCount>(
      "SELECT minute, outcome, count FROM notification_minutes WHERE minute >= ? ORDER BY minute"
    ),
    pruneOld: db.prepare<[number, number]>(
      `DELETE FROM notification_log WHERE seq IN (
        SELECT seq FROM notification_log WHERE received_at < ? ORDER BY received_at LIMIT ?
      )`
    ),
    pruneBeyond: db.prepare<[number, number]>(
      `DELETE FROM notification_log WHERE seq IN (
        SELECT seq FROM notification_log WHERE seq <= (SELECT max(seq) FROM notification_log) - ? ORDER BY seq LIMIT ?
      )`
    ),
    pruneMinutes: db.prepare<[number]>("DELETE FROM notification_minutes WHERE minute < ?")
  }

  const write = db.transaction((...[entries, counts]: Parameters<NotificationLogStore["Type"]["write"]>) => {
    for (const { notification, outcome, sinks } of entries) {
      statements.insert.run(
        notification.id,
        notification.topic,
        notification.intercomTopic,
        notification.appId,
        notification.receivedAt.getTime(),
        notification.deliveryKey,
        outcome,
        notification.schemaMismatch ?? null,
        sinksText(sinks),
        asBuffer(notification.body)
      )
    }
    for (const { count, minute, outcome } of counts) statements.count.run(minute, outcome, count)
  })

  return NotificationLogStore.of({
    write: (entries, counts) => attempt(() => write(entries, counts)),
    search: (search) =>
      attempt(() => {
        const { params, sql } = searchStatement(search, "sqlite")
        return db.prepare<Array<unknown>, LogRow>(sql).all(...params).map(toLogged)
      }),
    get: (seq) => attempt(() => Option.map(Option.fromNullable(statements.get.get(seq)), toLoggedWithBody)),
    deliveries: (logged) =>
      attempt(() => ({
        waiting: statements.waiting
          .all(JSON.stringify(logged.sinks), logged.entity, logged.notificationId, logged.receivedAt.getTime())
          .map(toWaitingDelivery),
        deadLetters: (logged.notificationId === null
          ? statements.deadWithoutId.all(logged.entity, logged.receivedAt.getTime())
          : statements.deadById.all(logged.notificationId)).map(toNotificationDeadLetter)
      })),
    minutes: (since) => attempt(() => statements.minutes.all(since)),
    prune: (before, maxRows) =>
      attempt(() => {
        const old = statements.pruneOld.run(before, PRUNE_BATCH).changes
        const beyond = statements.pruneBeyond.run(maxRows, PRUNE_BATCH).changes
        statements.pruneMinutes.run(before)
        return old + beyond
      })
  })
}
