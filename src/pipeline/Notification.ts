import { Data, Effect, Either } from "effect"
import { isUtf8 } from "node:buffer"
import { type CanonicalTopic, type NotificationOf, validators } from "../generated/index.js"
import { isStorable } from "../store/StorableText.js"
import { deliveryKey } from "./DeliveryKey.js"
import { parseJsonBytes } from "./LargeJson.js"
import { kindOf, schemaChecks } from "./ParseProblem.js"
import type { VerifiedBody } from "./Signature.js"
import { canonicalTopic } from "./Topics.js"
import { topLevelNumber } from "./TopLevelNumber.js"

/** A canonical topic with its notification decoded by that topic's generated schema. */
export type Decoded = {
  [T in CanonicalTopic]: { readonly topic: T; readonly value: NotificationOf<T> }
}[CanonicalTopic]

/** A verified notification without its parsed body: what the store keeps and the answer reports. */
export interface NotificationBytes {
  readonly receivedAt: Date
  /** Canonical topic, or null for an Intercom topic this service has no schema for. */
  readonly topic: CanonicalTopic | null
  readonly intercomTopic: string
  /** Intercom's notification id; null for `ping`. */
  readonly id: string | null
  readonly appId: string | null
  /** The request body exactly as received. */
  readonly body: Uint8Array
  /** What its deliveries are ordered by (see `deliveryKey`). */
  readonly deliveryKey: string
  /** Why a notification of a known topic does not match its schema, on one line; undefined when it does. */
  readonly schemaMismatch: string | undefined
}

/** A verified notification as the sinks receive it. */
export interface Notification extends NotificationBytes {
  /** The parsed body, every field kept. */
  readonly payload: unknown
  /** Present when `topic` is and the notification matches that topic's schema. */
  readonly decoded: Decoded | undefined
}

/** The body is not JSON, or not a notification envelope: the client's mistake (400). */
export class MalformedNotification extends Data.TaggedError("MalformedNotification")<{ readonly message: string }> {}

/** Longer topic strings and ids are refused: real ones are a few dozen characters, and both are echoed and logged. */
export const MAX_TOPIC_LENGTH = 200
export const MAX_ID_LENGTH = 200

/**
 * Checks a payload against its topic's schema. The generated schemas hold no transformations (their Type is their
 * Encoded), so a payload that decodes is already a value of the type, every unknown field included: it is checked
 * without building a copy ("ignore" instead of the schemas' own "preserve") and used as it is. The generated
 * validators give the same verdicts (test/validators.prop.test.ts) in plain code.
 */
export const checkers = schemaChecks({ onExcessProperty: "ignore" })

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const malformed = (message: string) => Either.left(new MalformedNotification({ message }))

/**
 * The envelope by hand: `type` and `topic` strings, `data.item` an object, `id` a string, a number or absent. Every
 * message names the field and the kind of value found, never the value's contents (which may be nested without bound).
 */
const envelopeProblem = (payload: unknown): string | undefined => {
  const wrong = (name: string, value: unknown, wanted: string) =>
    value === undefined ? `${name} is missing` : `${name} must be ${wanted}, got ${kindOf(value)}`
  if (!isObject(payload)) return wrong("the body", payload, "a JSON object")
  if (typeof payload.type !== "string") return wrong("type", payload.type, "a string")
  if (typeof payload.topic !== "string") return wrong("topic", payload.topic, "a string")
  if (payload.topic.length > MAX_TOPIC_LENGTH) return `topic is longer than ${MAX_TOPIC_LENGTH} characters`
  if (!isObject(payload.data)) return wrong("data", payload.data, "an object")
  if (!isObject(payload.data.item)) return wrong("data.item", payload.data.item, "an object")
  const id = payload.id
  if (id !== undefined && id !== null && typeof id !== "string" && typeof id !== "number") {
    return wrong("id", id, "a string, a number or null")
  }
  if (typeof id === "string" && id.length > MAX_ID_LENGTH) return `id is longer than ${MAX_ID_LENGTH} characters`
  for (const [name, value] of [["topic", payload.topic], ["id", id], ["app_id", payload.app_id]] as const) {
    if (typeof value === "string" && !isStorable(value)) {
      return `${name} holds a NUL character or an unpaired surrogate, which no store keeps as text`
    }
  }
  return undefined
}

/** Bytes (a body, as received or as stored) as a Buffer over the same memory, without a copy. */
export const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * UTF-8 JSON (RFC 8259) -> envelope -> canonical topic -> the topic's generated schema. Only verified bytes are
 * accepted. A numeric `id` is kept as its source text (`12345678901234567890` and `12345678901234567891` stay two
 * ids, `1e21` is not `"1e+21"`), so its retries are recognised and other ids are not taken for them. A known topic whose notification
 * does not match its schema is still a notification: `decoded` is absent and `schemaMismatch` says why.
 */
export const decodeNotification = (
  body: VerifiedBody,
  receivedAt: Date
): Either.Either<Notification, MalformedNotification> => {
  const bytes = asBuffer(body)
  if (!isUtf8(bytes)) return malformed("the body is not UTF-8 (JSON must be, RFC 8259)")
  let payload: unknown
  try {
    payload = parseJsonBytes(bytes)
  } catch (error) {
    return malformed(`the body is not JSON: ${(error as Error).message.slice(0, 200)}`)
  }
  const malformation = envelopeProblem(payload)
  if (malformation !== undefined) return malformed(`not an Intercom notification: ${malformation}`)
  const envelope = payload as { readonly topic: string; readonly id?: unknown; readonly app_id?: unknown }
  const topic = canonicalTopic(envelope.topic)
  const id = typeof envelope.id === "string"
    ? envelope.id
    : typeof envelope.id === "number"
    ? topLevelNumber(bytes, "id") ?? String(envelope.id)
    : null
  const appId = typeof envelope.app_id === "string" ? envelope.app_id : null
  // The compiled validator gives the schema's verdict in plain code; the schema itself runs only to say what is wrong.
  const problem = topic === null || validators[topic](payload) ? undefined : checkers[topic](payload)
  const decoded = topic === null || problem !== undefined ? undefined : new DecodedAs(topic, payload) as Decoded
  return Either.right(
    new ReceivedNotification(
      receivedAt,
      topic,
      envelope.topic,
      id,
      appId,
      body,
      deliveryKey(payload, id, envelope.topic),
      payload,
      decoded,
      problem
    )
  )
}

/*
 * A notification and its decoded view are built by constructors rather than object literals, which V8 may allocate
 * straight into the old generation with the payload they hold: see docs/performance.md#constructors-not-literals.
 */
class ReceivedNotification implements Notification {
  constructor(
    readonly receivedAt: Date,
    readonly topic: CanonicalTopic | null,
    readonly intercomTopic: string,
    readonly id: string | null,
    readonly appId: string | null,
    readonly body: Uint8Array,
    readonly deliveryKey: string,
    readonly payload: unknown,
    readonly decoded: Decoded | undefined,
    readonly schemaMismatch: string | undefined
  ) {}
}

/**
 * The notification without its parsed body, for what outlives the sinks' deliveries (the store's commit, the answer):
 * see docs/performance.md#nothing-that-waits-for-a-sync-holds-the-parsed-body.
 */
export const withoutPayload = (notification: NotificationBytes): NotificationBytes =>
  new BytesOf(
    notification.receivedAt,
    notification.topic,
    notification.intercomTopic,
    notification.id,
    notification.appId,
    notification.body,
    notification.deliveryKey,
    notification.schemaMismatch
  )

class BytesOf implements NotificationBytes {
  constructor(
    readonly receivedAt: Date,
    readonly topic: CanonicalTopic | null,
    readonly intercomTopic: string,
    readonly id: string | null,
    readonly appId: string | null,
    readonly body: Uint8Array,
    readonly deliveryKey: string,
    readonly schemaMismatch: string | undefined
  ) {}
}

class DecodedAs {
  constructor(readonly topic: CanonicalTopic, readonly value: unknown) {}
}

export class Decoder extends Effect.Service<Decoder>()("Decoder", {
  succeed: { decode: decodeNotification }
}) {}
