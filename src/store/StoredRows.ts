/** The outbox and dead-letter rows both stores read (times epoch milliseconds), and what they stand for. */
import type { DeadLetter, DeadLetterReason, OutboxEntry, WaitingDeadLetter } from "./Outbox.js"

export interface OutboxRow {
  readonly seq: number
  readonly sink: string
  readonly delivery_key: string
  readonly bucket: number
  readonly notification_id: string | null
  readonly intercom_topic: string
  readonly received_at: number
  readonly body: Uint8Array
  readonly attempts: number
}

export interface DeadLetterRow {
  readonly id: number
  readonly sink: string | null
  readonly reason: DeadLetterReason
  readonly error: string
  readonly attempts: number
  readonly notification_id: string | null
  readonly topic: string | null
  readonly intercom_topic: string
  readonly app_id: string | null
  readonly received_at: number
  readonly body: Uint8Array
}

export const toEntry = (row: OutboxRow): OutboxEntry => ({
  seq: row.seq,
  sink: row.sink,
  key: row.delivery_key,
  bucket: row.bucket,
  notificationId: row.notification_id,
  intercomTopic: row.intercom_topic,
  receivedAt: new Date(row.received_at),
  body: row.body,
  attempts: row.attempts
})

export const toDeadLetter = (row: DeadLetterRow): DeadLetter => ({
  id: row.id,
  sink: row.sink,
  reason: row.reason,
  error: row.error,
  attempts: row.attempts,
  notificationId: row.notification_id,
  topic: row.topic,
  intercomTopic: row.intercom_topic,
  appId: row.app_id,
  receivedAt: new Date(row.received_at),
  body: row.body
})

/** A dead letter as `deadLetters` lists it. */
export interface WaitingRow {
  readonly id: number
  readonly dead_at: number
  readonly sink: string | null
  readonly reason: DeadLetterReason
  readonly topic: string | null
  readonly intercom_topic: string
  readonly notification_id: string | null
  readonly error: string
}

export const WAITING_COLUMNS = "id, dead_at, sink, reason, topic, intercom_topic, notification_id, error"

export const toWaiting = (row: WaitingRow): WaitingDeadLetter => ({
  id: row.id,
  deadAt: new Date(row.dead_at),
  sink: row.sink,
  reason: row.reason,
  topic: row.topic,
  intercomTopic: row.intercom_topic,
  notificationId: row.notification_id,
  error: row.error
})
