import { Effect, Option } from "effect"
import { asBuffer } from "../../pipeline/Notification.js"
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
} from "../LogStatements.js"
import { type MinuteCount, NotificationLogStore } from "../NotificationLog.js"
import type { Database } from "./Database.js"

/**
 * A batch of entries and counts in one statement: one round trip, one commit. The bodies travel as one bytea, sent as
 * bytes (an array of bytea is sent as hex text, twice the size, built as a string on the event loop), each entry's the
 * part between its start and end.
 */
const WRITE = `WITH logged AS (
  INSERT INTO notification_log
    (notification_id, topic, intercom_topic, app_id, received_at, entity, outcome, schema_mismatch, sinks, body)
  SELECT r.id, r.topic, r.intercom_topic, r.app_id, r.received_at, r.entity, r.outcome, r.schema_mismatch, r.sinks,
    substring($10::bytea FROM r.body_start + 1 FOR r.body_end - r.body_start)
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],
    $9::text[], $14::int[], $15::int[])
    AS r (id, topic, intercom_topic, app_id, received_at, entity, outcome, schema_mismatch, sinks, body_start, body_end)
  RETURNING 1
), counted AS (
  INSERT INTO notification_minutes (minute, outcome, count)
  SELECT minute, outcome, sum(count) FROM unnest($11::bigint[], $12::text[], $13::bigint[]) AS c (minute, outcome, count)
  GROUP BY minute, outcome
  ON CONFLICT (minute, outcome) DO UPDATE SET count = notification_minutes.count + excluded.count
  RETURNING 1
)
SELECT (SELECT count(*) FROM logged) AS logged, (SELECT count(*) FROM counted) AS counted`

const PRUNE_OLD = `DELETE FROM notification_log WHERE seq IN (
  SELECT seq FROM notification_log WHERE received_at < $1 ORDER BY received_at LIMIT $2
)`

/**
 * Those older than the newest `maxRows`, counted by position: seq has gaps (values a rolled-back write took, entries
 * pruned by age out of order).
 */
const PRUNE_BEYOND = `DELETE FROM notification_log WHERE seq IN (
  SELECT seq FROM notification_log
  WHERE seq <= (SELECT seq FROM notification_log ORDER BY seq DESC LIMIT 1 OFFSET $1)
  ORDER BY seq LIMIT $2
)`

/** The notification log in the shared PostgreSQL store: every instance writes its own, the console reads them all. */
export const make = (db: Database): NotificationLogStore["Type"] =>
  NotificationLogStore.of({
    write: (entries, counts) => {
      const column = <A>(pick: (entry: (typeof entries)[number]) => A) => entries.map(pick)
      const bodies = Buffer.concat(entries.map((entry) => asBuffer(entry.notification.body)))
      const starts: Array<number> = []
      const ends: Array<number> = []
      let offset = 0
      for (const entry of entries) {
        starts.push(offset)
        offset += entry.notification.body.byteLength
        ends.push(offset)
      }
      return db.query(WRITE, [
        column((entry) => entry.notification.id),
        column((entry) => entry.notification.topic),
        column((entry) => entry.notification.intercomTopic),
        column((entry) => entry.notification.appId),
        column((entry) => entry.notification.receivedAt.getTime()),
        column((entry) => entry.notification.deliveryKey),
        column((entry) => entry.outcome),
        column((entry) => entry.notification.schemaMismatch ?? null),
        column((entry) => sinksText(entry.sinks)),
        bodies,
        counts.map((count) => count.minute),
        counts.map((count) => count.outcome),
        counts.map((count) => count.count),
        starts,
        ends
      ]).pipe(Effect.asVoid)
    },
    search: (search) => {
      const { params, sql } = searchStatement(search, "postgres")
      return Effect.map(db.query<LogRow>(sql, params), (rows) => rows.map(toLogged))
    },
    get: (seq) =>
      Effect.map(
        db.query<LogRow & { body: Buffer }>(`SELECT ${LOG_COLUMNS}, body FROM notification_log WHERE seq = $1`, [seq]),
        (rows) => Option.map(Option.fromNullable(rows[0]), toLoggedWithBody)
      ),
    deliveries: (logged) =>
      Effect.all({
        waiting: Effect.map(
          db.query<WaitingRow>(
            `SELECT sink, attempts, next_attempt_at, last_error FROM outbox
            WHERE sink = ANY($1::text[]) AND delivery_key = $2 AND notification_id IS NOT DISTINCT FROM $3
            AND received_at = $4 ORDER BY seq`,
            [logged.sinks, logged.entity, logged.notificationId, logged.receivedAt.getTime()]
          ),
          (rows) => rows.map(toWaitingDelivery)
        ),
        deadLetters: Effect.map(
          logged.notificationId === null
            ? db.query<NotificationDeadLetterRow>(
              `SELECT ${DEAD_LETTER_COLUMNS} FROM dead_letters
              WHERE notification_id IS NULL AND delivery_key = $1 AND received_at = $2 ORDER BY id`,
              [logged.entity, logged.receivedAt.getTime()]
            )
            : db.query<NotificationDeadLetterRow>(
              `SELECT ${DEAD_LETTER_COLUMNS} FROM dead_letters WHERE notification_id = $1 ORDER BY id`,
              [logged.notificationId]
            ),
          (rows) => rows.map(toNotificationDeadLetter)
        )
      }),
    minutes: (since) =>
      Effect.map(
        db.query<MinuteCount>(
          "SELECT minute, outcome, count FROM notification_minutes WHERE minute >= $1 ORDER BY minute",
          [since]
        ),
        (rows) => rows.map((row) => ({ ...row, count: Number(row.count) }))
      ),
    prune: (before, maxRows) =>
      Effect.gen(function*() {
        const old = yield* db.query(`${PRUNE_OLD} RETURNING 1`, [before, PRUNE_BATCH])
        const beyond = yield* db.query(`${PRUNE_BEYOND} RETURNING 1`, [maxRows, PRUNE_BATCH])
        yield* db.query("DELETE FROM notification_minutes WHERE minute < $1", [before])
        return old.length + beyond.length
      })
  })
