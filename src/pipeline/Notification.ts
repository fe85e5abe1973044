import { Data, Effect, Either, ParseResult, Schema } from "effect"
import { type CanonicalTopic, type NotificationOf, topicSchemas } from "../generated/index.js"
import type { VerifiedBody } from "./Signature.js"
import { canonicalTopic } from "./Topics.js"

/** A canonical topic with its notification decoded by that topic's generated schema. */
export type Decoded = {
  [T in CanonicalTopic]: { readonly topic: T; readonly value: NotificationOf<T> }
}[CanonicalTopic]

/** A verified notification as the sinks receive it. */
export interface Notification {
  readonly receivedAt: Date
  /** Canonical topic, or null for an Intercom topic this service has no schema for. */
  readonly topic: CanonicalTopic | null
  readonly intercomTopic: string
  /** Intercom's notification id; null for `ping`. */
  readonly id: string | null
  readonly appId: string | null
  /** The request body exactly as received. */
  readonly body: Uint8Array
  /** The parsed body, every field kept. */
  readonly payload: unknown
  /** Present when `topic` is and the notification matches that topic's schema. */
  readonly decoded: Decoded | undefined
  /** Why a notification of a known topic does not match its schema, on one line; undefined when it does. */
  readonly schemaMismatch: string | undefined
}

/** The body is not JSON, or not a notification envelope: the client's mistake (400). */
export class MalformedNotification extends Data.TaggedError("MalformedNotification")<{ readonly message: string }> {}

/** A JSON object, checked without visiting its fields (the topic's schema does that). */
const JsonObject = Schema.declare(
  (input: unknown): input is { readonly [key: string]: unknown } =>
    typeof input === "object" && input !== null && !Array.isArray(input),
  { identifier: "object" }
)

const Envelope = Schema.Struct({
  type: Schema.String,
  topic: Schema.String,
  data: Schema.Struct({ item: JsonObject })
})
const decodeEnvelope = Schema.decodeUnknownEither(Envelope)

/**
 * Checks a payload against its topic's schema. The generated schemas hold no transformations (their Type is their
 * Encoded), so a payload that decodes is already a value of the type, every unknown field included: it is checked
 * without building a copy ("ignore" instead of the schemas' own "preserve", about 3x faster) and used as it is.
 */
const checkers = Object.fromEntries(
  Object.entries(topicSchemas).map(([topic, schema]) => [
    topic,
    Schema.decodeUnknownEither(Schema.Struct(schema.fields) as unknown as Schema.Schema<unknown>, {
      onExcessProperty: "ignore"
    })
  ])
) as Record<CanonicalTopic, (input: unknown) => Either.Either<unknown, ParseResult.ParseError>>

const stringField = (payload: unknown, key: string): string | null => {
  const value = (payload as Record<string, unknown>)[key]
  return typeof value === "string" ? value : null
}

/** The longest schema mismatch reason kept: it goes into records, headers and logs. */
const MAX_REASON = 300

/** The first issue of a parse error as `path: message`, on one line and bounded, with how many more there are. */
const oneLine = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  const text = first === undefined
    ? "does not match"
    : `${first.path.length === 0 ? "body" : first.path.join(".")}: ${first.message}`.replace(/\s+/g, " ")
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON)}...${more}` : text + more
}

/**
 * JSON -> envelope -> canonical topic -> the topic's generated schema. Only verified bytes are accepted. A known topic
 * whose notification does not match its schema is still a notification: `decoded` is absent and `schemaMismatch`
 * says why.
 */
export const decodeNotification = (
  body: VerifiedBody,
  receivedAt: Date
): Effect.Effect<Notification, MalformedNotification> => {
  let payload: unknown
  try {
    payload = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"))
  } catch (error) {
    return Effect.fail(new MalformedNotification({ message: `body is not JSON: ${(error as Error).message}` }))
  }
  const envelope = decodeEnvelope(payload)
  if (Either.isLeft(envelope)) {
    return Effect.fail(
      new MalformedNotification({
        message: `not an Intercom notification (needs type, topic and data.item): ${
          ParseResult.ArrayFormatter.formatErrorSync(envelope.left)
            .map((issue) => `${issue.path.length === 0 ? "body" : issue.path.join(".")} ${issue.message}`)
            .join("; ")
        }`
      })
    )
  }
  const topic = canonicalTopic(envelope.right.topic)
  const base = {
    receivedAt,
    topic,
    intercomTopic: envelope.right.topic,
    id: stringField(payload, "id"),
    appId: stringField(payload, "app_id"),
    body,
    payload
  }
  if (topic === null) return Effect.succeed({ ...base, decoded: undefined, schemaMismatch: undefined })
  const checked = checkers[topic](payload)
  return Effect.succeed(
    Either.isRight(checked)
      ? { ...base, decoded: { topic, value: payload } as Decoded, schemaMismatch: undefined }
      : { ...base, decoded: undefined, schemaMismatch: oneLine(checked.left) }
  )
}

export class Decoder extends Effect.Service<Decoder>()("Decoder", {
  succeed: { decode: decodeNotification }
}) {}
