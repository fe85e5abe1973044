/** The notification log's search and rows, one text for both stores (times epoch milliseconds). */
import { canonicalTopic } from "../pipeline/Topics.js"
import type {
  LoggedNotification,
  LoggedNotificationWithBody,
  LoggedOutcome,
  LogSearch,
  NotificationDeadLetter,
  WaitingDelivery
} from "./NotificationLog.js"
import type { DeadLetterReason } from "./Outbox.js"

export interface LogRow {
  readonly seq: number
  readonly notification_id: string | null
  readonly topic: string | null
  readonly intercom_topic: string
  readonly app_id: string | null
  readonly received_at: number
  readonly entity: string
  readonly outcome: LoggedOutcome
  readonly schema_mismatch: string | null
  readonly sinks: string
}

export const LOG_COLUMNS =
  "seq, notification_id, topic, intercom_topic, app_id, received_at, entity, outcome, schema_mismatch, sinks"

export const toLogged = (row: LogRow): LoggedNotification => ({
  seq: Number(row.seq),
  notificationId: row.notification_id,
  topic: row.topic,
  intercomTopic: row.intercom_topic,
  appId: row.app_id,
  receivedAt: new Date(Number(row.received_at)),
  entity: row.entity,
  outcome: row.outcome,
  schemaMismatch: row.schema_mismatch,
  sinks: row.sinks === "" ? [] : row.sinks.split(",")
})

export const toLoggedWithBody = (row: LogRow & { readonly body: Uint8Array }): LoggedNotificationWithBody => ({
  ...toLogged(row),
  body: row.body
})

/** Sink names never hold a comma (`SINKS` is a comma-separated list): they are kept as one text. */
export const sinksText = (sinks: ReadonlyArray<string>) => sinks.join(",")

export type Dialect = "sqlite" | "postgres"

/**
 * The statement listing `search`, newest first, and its parameters. Each condition is one an index serves: the id, the
 * entity, the canonical topic (an Intercom topic string is matched among its canonical topic's), the receive time.
 */
export const searchStatement = (search: LogSearch, dialect: Dialect) => {
  const params: Array<unknown> = []
  const param = (value: unknown) => {
    params.push(value)
    return dialect === "sqlite" ? "?" : `$${params.length}`
  }
  const anyIn = (column: string, values: ReadonlyArray<string>) =>
    dialect === "sqlite"
      ? `${column} IN (SELECT value FROM json_each(${param(JSON.stringify(values))}))`
      : `${column} = ANY(${param(values)}::text[])`
  const conditions: Array<string> = []
  if (search.anyOf !== undefined) {
    conditions.push(
      `seq IN (SELECT seq FROM notification_log WHERE ${anyIn("notification_id", search.anyOf.ids)}
      UNION ALL SELECT seq FROM notification_log WHERE ${anyIn("entity", search.anyOf.entities)})`
    )
  }
  if (search.topic !== undefined) {
    const canonical = canonicalTopic(search.topic)
    if (canonical === search.topic) conditions.push(`topic = ${param(canonical)}`)
    else if (canonical !== null) {
      conditions.push(`topic = ${param(canonical)}`, `intercom_topic = ${param(search.topic)}`)
    } else conditions.push("topic IS NULL", `intercom_topic = ${param(search.topic)}`)
  }
  if (search.since !== undefined) conditions.push(`received_at >= ${param(search.since.getTime())}`)
  if (search.until !== undefined) conditions.push(`received_at <= ${param(search.until.getTime())}`)
  if (search.after !== undefined) {
    conditions.push(`(received_at, seq) < (${param(search.after.receivedAt)}, ${param(search.after.seq)})`)
  }
  const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`
  return {
    sql: `SELECT ${LOG_COLUMNS} FROM notification_log ${where}
    ORDER BY received_at DESC, seq DESC LIMIT ${param(search.limit)}`,
    params
  }
}

export interface WaitingRow {
  readonly sink: string
  readonly attempts: number
  readonly next_attempt_at: number
  readonly last_error: string | null
}

export const toWaitingDelivery = (row: WaitingRow): WaitingDelivery => ({
  sink: row.sink,
  attempts: Number(row.attempts),
  nextAttemptAt: new Date(Number(row.next_attempt_at)),
  lastError: row.last_error
})

export interface NotificationDeadLetterRow {
  readonly id: number
  readonly sink: string | null
  readonly reason: DeadLetterReason
  readonly error: string
  readonly attempts: number
  readonly dead_at: number
  readonly replayed_at: number | null
}

export const DEAD_LETTER_COLUMNS = "id, sink, reason, error, attempts, dead_at, replayed_at"

export const toNotificationDeadLetter = (row: NotificationDeadLetterRow): NotificationDeadLetter => ({
  id: Number(row.id),
  sink: row.sink,
  reason: row.reason,
  error: row.error,
  attempts: Number(row.attempts),
  deadAt: new Date(Number(row.dead_at)),
  replayedAt: row.replayed_at === null ? null : new Date(Number(row.replayed_at))
})

/** Entries removed by one prune statement: a long delete holds the store from the request path. */
export const PRUNE_BATCH = 5000
