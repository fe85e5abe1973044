import { Context, Data, type Duration, type Effect, type Either, Option } from "effect"
import type { MirrorChange } from "../mirror/Rows.js"
import type { Notification } from "../pipeline/Notification.js"
import { headerValue } from "./HeaderValue.js"

/**
 * What a failed delivery says, and so what happens next:
 * - `unavailable`: the target is unwell (unreachable, timing out, 5xx, 408, 429, a broker that cannot take writes). The
 *   sink stops and probes the target with one delivery at a time until one succeeds; the notification spends no attempt.
 * - `failed`: this notification could not be taken now (a handler failed): retried with backoff, only its key waiting
 *   behind it, a dead letter (`exhausted`) after `MAX_ATTEMPTS`.
 * - `rejected`: sending it again cannot succeed (a 4xx, a broker's refusal): a dead letter at once.
 */
export type FailureKind = "unavailable" | "failed" | "rejected"

/** A sink could not take a notification. */
export class SinkError extends Data.TaggedError("SinkError")<{
  readonly sink: string
  readonly message: string
  readonly kind: FailureKind
  /** How long the target asked us to wait. */
  readonly retryAfter: Option.Option<Duration.Duration>
}> {
  static readonly unavailable = (sink: string, message: string, retryAfter = Option.none<Duration.Duration>()) =>
    new SinkError({ sink, message, kind: "unavailable", retryAfter })
  static readonly failed = (sink: string, message: string) =>
    new SinkError({ sink, message, kind: "failed", retryAfter: Option.none() })
  static readonly rejected = (sink: string, message: string) =>
    new SinkError({ sink, message, kind: "rejected", retryAfter: Option.none() })
}

/** A destination for notifications. */
export interface Sink {
  readonly name: string
  /**
   * `inline`: delivered before the request is answered (a failure answers 503).
   * `outbox`: committed to the durable outbox before the answer, delivered in the background with retries.
   * `store`: its `changes` are made by the store in the transaction that accepts the notification; what it cannot take
   * then goes through the outbox like an `outbox` sink's delivery (and `deliver` makes the changes).
   */
  readonly mode: "inline" | "outbox" | "store"
  /**
   * `bytes`: takes every verified notification as received, whether or not it matches its topic's schema.
   * `decoded`: needs the value decoded by the topic's schema; a notification that does not match it becomes this
   * sink's dead letter (`schema_mismatch`), to be replayed once `npm run codegen` has learned the shape.
   */
  readonly input: "bytes" | "decoded"
  /** Succeeds once the sink has the notification (for durable sinks: on disk). */
  readonly deliver: (notification: Notification) => Effect.Effect<void, SinkError>
  /** For a `store` sink: the changes a notification makes, or why it cannot make them. */
  readonly changes?: (notification: Notification) => Either.Either<ReadonlyArray<MirrorChange>, string>
  /** Deliveries in flight at once when `DELIVERY_CONCURRENCY` is unset (32 when absent). */
  readonly inFlight?: number
  /** A reason the sink cannot take notifications now, for `/readyz`. */
  readonly problem?: Effect.Effect<Option.Option<string>>
}

/**
 * The topic and id of a notification as the `http` sink's headers, which the broker sinks carry too: Intercom's topic
 * string, the canonical topic, the notification id and the schema marker, each absent when it does not apply. Values
 * come from the signed body and may hold any character: each one is made safe for a header (`headerValue`).
 */
export const metadataHeaders = (notification: Notification): Record<string, string> => {
  const headers: Record<string, string> = {}
  const set = (name: string, value: string) => {
    const safe = headerValue(value)
    if (safe !== undefined) headers[name] = safe
  }
  set("x-intercom-topic", notification.intercomTopic)
  if (notification.topic !== null) set("x-webhook-topic", notification.topic)
  if (notification.id !== null) set("x-notification-id", notification.id)
  if (notification.schemaMismatch !== undefined) headers["x-webhook-schema"] = "mismatch"
  return headers
}

/** The sinks this process delivers to, by name. */
export class Sinks extends Context.Tag("Sinks")<Sinks, ReadonlyMap<string, Sink>>() {}

const NEWLINE = 0x0a
const RETURN = 0x0d
const SPACE = 0x20

/** What a record is made of: a notification, or a dead letter. */
export interface RecordSource {
  readonly receivedAt: Date
  readonly topic: string | null
  readonly intercomTopic: string
  readonly id: string | null
  readonly appId: string | null
  readonly body: Uint8Array
  /** Set when a notification of a known topic does not match its schema. */
  readonly schemaMismatch?: string | undefined
}

/**
 * The body (UTF-8 JSON, checked when it was decoded) as one line of JSON. Raw CR/LF can only be insignificant
 * whitespace in JSON (strings escape them), so they become spaces; the bytes are otherwise kept, so numbers and key
 * order stay exactly as Intercom sent them.
 */
const bodyAsJsonLine = (body: Uint8Array): Uint8Array => {
  if (!body.includes(NEWLINE) && !body.includes(RETURN)) return body
  return body.map((byte) => byte === NEWLINE || byte === RETURN ? SPACE : byte)
}

/** The fields every record starts with, as JSON text without braces; a schema mismatch is marked. */
const recordHead = (notification: RecordSource): string =>
  `"received_at":${JSON.stringify(notification.receivedAt.toISOString())},"topic":${
    JSON.stringify(notification.topic)
  },"intercom_topic":${JSON.stringify(notification.intercomTopic)},"id":${JSON.stringify(notification.id)},"app_id":${
    JSON.stringify(notification.appId)
  }${
    notification.schemaMismatch === undefined
      ? ""
      : `,"schema":"mismatch","schema_error":${JSON.stringify(notification.schemaMismatch)}`
  }`

const TAIL = Buffer.from("}\n")

/** A record as its parts, in order: its fields, the body (not copied unless it holds CR/LF), and its end. */
export const recordParts = (
  notification: RecordSource,
  extra: Record<string, unknown> = {}
): ReadonlyArray<Uint8Array> => {
  const fields = Object.entries(extra).map(([key, value]) => `,${JSON.stringify(key)}:${JSON.stringify(value)}`)
  return [
    Buffer.from(`{${recordHead(notification)}${fields.join("")},"payload":`),
    bodyAsJsonLine(notification.body),
    TAIL
  ]
}

/**
 * One JSONL record: `{"received_at","topic","intercom_topic","id","app_id", ["schema","schema_error",] ...extra,
 * "payload"}` and a newline.
 */
export const record = (notification: RecordSource, extra: Record<string, unknown> = {}): Buffer =>
  Buffer.concat(recordParts(notification, extra))
