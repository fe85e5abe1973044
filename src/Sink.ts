import { Context, Data, type Effect } from "effect"
import { isUtf8 } from "node:buffer"
import type { Notification } from "./Notification.js"

/** A sink could not take a notification; the request is answered 503 so that Intercom sends it again. */
export class SinkError extends Data.TaggedError("SinkError")<{
  readonly sink: string
  readonly message: string
}> {}

/** A destination for notifications. */
export interface Sink {
  readonly name: string
  /** Succeeds once the sink has the notification (for durable sinks: on disk). */
  readonly deliver: (notification: Notification) => Effect.Effect<void, SinkError>
}

/** The sinks this process delivers to, by name. */
export class Sinks extends Context.Tag("Sinks")<Sinks, ReadonlyMap<string, Sink>>() {}

const NEWLINE = 0x0a
const RETURN = 0x0d
const SPACE = 0x20

/**
 * The body as one line of JSON. Raw CR/LF can only be insignificant whitespace in JSON (strings escape them),
 * so they become spaces; the bytes are otherwise kept, so numbers and key order stay exactly as Intercom sent them.
 */
export const bodyAsJsonLine = (notification: Notification): Uint8Array => {
  const { body } = notification
  if (!isUtf8(body)) return Buffer.from(JSON.stringify(notification.payload))
  if (!body.includes(NEWLINE) && !body.includes(RETURN)) return body
  return body.map((byte) => byte === NEWLINE || byte === RETURN ? SPACE : byte)
}

/** The fields every record starts with, as JSON text without braces. */
export const recordHead = (notification: Notification): string =>
  `"received_at":${JSON.stringify(notification.receivedAt.toISOString())},"topic":${
    JSON.stringify(notification.topic)
  },"intercom_topic":${JSON.stringify(notification.intercomTopic)},"id":${JSON.stringify(notification.id)},"app_id":${
    JSON.stringify(notification.appId)
  }`

/** One JSONL record: `{"received_at","topic","intercom_topic","id","app_id", ...extra, "payload"}` and a newline. */
export const record = (notification: Notification, extra: Record<string, unknown> = {}): Uint8Array => {
  const fields = Object.entries(extra).map(([key, value]) => `,${JSON.stringify(key)}:${JSON.stringify(value)}`)
  return Buffer.concat([
    Buffer.from(`{${recordHead(notification)}${fields.join("")},"payload":`),
    bodyAsJsonLine(notification),
    Buffer.from("}\n")
  ])
}
