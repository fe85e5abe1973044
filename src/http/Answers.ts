import { Cause, Effect, Either } from "effect"
import type { IncomingHttpHeaders } from "node:http"
import type { Metrics } from "../ops/Metrics.js"
import type { Outcome, ReceiveError } from "../pipeline/Receiver.js"
import type { Signature, SignatureError, Verifier } from "../pipeline/Signature.js"
import type { BodyError } from "./Body.js"

/** Said when the body was left unread: the connection cannot carry another request. */
export const CLOSE = { connection: "close" }

export const isJson = (contentType: string): boolean => {
  if (contentType === "application/json") return true
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase()
  return mediaType === "application/json" || mediaType.endsWith("+json")
}

/** An outcome and which configured secret verified the request. */
export type Received = Outcome & { readonly secretIndex: number }

/** An answer of the webhook endpoint: its status, its JSON body and any headers of its own. */
export interface Answer {
  readonly status: number
  readonly body: Readonly<Record<string, unknown>>
  readonly headers?: Readonly<Record<string, string>>
}

const answer = (received: Received): Answer => ({
  status: 200,
  body: {
    status: received.status,
    topic: received.notification.topic,
    intercom_topic: received.notification.intercomTopic,
    id: received.notification.id,
    ...(received.notification.schemaMismatch === undefined
      ? {}
      : { schema: "mismatch", schema_error: received.notification.schemaMismatch }),
    ...(received.status === "accepted" ? { sinks: received.sinks, queued: received.queued } : {}),
    ...(received.status === "dead_lettered" ? { reason: received.reason } : {})
  }
})

export interface Handled {
  readonly answer: Answer
  /** What the request log line and the metrics need to know. */
  readonly received?: Received
  readonly error?: string
}

export const refused = (
  status: number,
  error: string,
  message: string,
  headers: Record<string, string> = {}
): Handled => ({ answer: { status, body: { error, message }, headers }, error })

const unavailable = (error: string, message: string): Handled =>
  refused(503, error, `not accepted: ${message}; send it again later`, { "retry-after": "60" })

export const signatureRefused = (
  metrics: Metrics["Type"],
  error: SignatureError,
  headers: Record<string, string> = {}
): Handled => {
  metrics.signatureFailures.inc({ reason: error.reason })
  return { ...refused(401, "invalid_signature", error.message, headers), error: `signature_${error.reason}` }
}

/** Refusals decided from the headers alone, before any byte of the body is read. */
export const admit = (
  signature: Signature["Type"],
  metrics: Metrics["Type"],
  headers: IncomingHttpHeaders
): Either.Either<Verifier, Handled> => {
  if (!isJson(headers["content-type"] ?? "")) {
    return Either.left(refused(415, "unsupported_media_type", "Content-Type must be application/json", CLOSE))
  }
  return Either.mapLeft(signature.begin(headers), (error) => signatureRefused(metrics, error, CLOSE))
}

export const bodyRefused = (metrics: Metrics["Type"], error: BodyError): Handled => {
  switch (error._tag) {
    case "BodyTooLarge":
      return refused(413, "payload_too_large", `body is over MAX_BODY_BYTES (${error.limit} bytes)`, CLOSE)
    case "OverBudget":
      metrics.overCapacity.inc({ limit: "body_budget" })
      return refused(503, "busy", "too many bytes in flight; send it again later", { ...CLOSE, "retry-after": "10" })
    case "BodyUnreadable":
      return refused(400, "bad_request", `body could not be read: ${error.message}`)
  }
}

export const receiveRefused = (error: ReceiveError): Effect.Effect<Handled> => {
  switch (error._tag) {
    case "MalformedNotification":
      return Effect.succeed(refused(400, "malformed_notification", error.message))
    case "SinksUnavailable":
      return Effect.as(
        Effect.logError("sink unavailable").pipe(
          Effect.annotateLogs("failures", error.failures.map((failure) => `${failure.sink}: ${failure.message}`))
        ),
        unavailable("sink_unavailable", `${error.failures.map((failure) => failure.sink).join(", ")} unavailable`)
      )
    case "StoreUnavailable":
      return Effect.as(
        Effect.logError("store unavailable").pipe(Effect.annotateLogs("error", error.message)),
        unavailable("storage_unavailable", "storage unavailable")
      )
    case "StoreRefused":
      return Effect.as(
        Effect.logWarning("the store refuses the notification").pipe(Effect.annotateLogs("error", error.message)),
        refused(400, "unstorable_notification", `the store cannot keep this notification: ${error.message}`)
      )
    case "OutboxFull":
      return Effect.as(
        Effect.logError("outbox full").pipe(Effect.annotateLogs("limit", error.limit)),
        unavailable("outbox_full", "too many deliveries waiting")
      )
  }
}

/**
 * What the pipeline made of a verified body, built by a constructor rather than a literal (it holds the notification
 * until the answer): see docs/performance.md#constructors-not-literals.
 */
export class Answered implements Handled {
  readonly answer: Answer
  constructor(readonly received: Received) {
    this.answer = answer(received)
  }
}

/** The longest part of an unexpected error's description that is logged. */
const MAX_DEFECT_LOG = 2000

/** No input a client can send gets here; if something does, it is answered, logged and counted, never silent. */
export const unexpected = (metrics: Metrics["Type"]) => (defect: unknown) =>
  Effect.sync(() => metrics.unexpectedErrors.inc()).pipe(
    Effect.zipRight(
      Effect.logError("unexpected error").pipe(
        Effect.annotateLogs("defect", Cause.pretty(Cause.die(defect)).slice(0, MAX_DEFECT_LOG))
      )
    ),
    Effect.as<Handled>(refused(500, "internal_error", "the service failed unexpectedly; it has been logged"))
  )

/** Counts what happened, with label values from bounded sets. */
export const count = (metrics: Metrics["Type"], received: Received) => {
  const notification = received.notification
  metrics.signatureVerified.inc({ secret_index: String(received.secretIndex) })
  metrics.notifications.inc({
    topic: notification.topic ?? "none",
    intercom_topic: metrics.topicLabel(notification.intercomTopic),
    outcome: received.status === "dead_lettered" ? received.reason : received.status
  })
  if (received.status === "duplicate") metrics.dedupeHits.inc()
  if (notification.schemaMismatch !== undefined) metrics.decodeFailures.inc({ topic: notification.topic ?? "none" })
}
