import { Cause, Effect, Either, Exit, FiberId, FiberRef, FiberRefs, HashMap, List, LogLevel, Runtime } from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import { Annotated } from "../ops/LogLines.js"
import type { Metrics } from "../ops/Metrics.js"
import { type Outcome, type ReceiveError, Receiver } from "../pipeline/Receiver.js"
import { Signature, type SignatureError } from "../pipeline/Signature.js"
import { readBody } from "./Body.js"
import type { BodyBudget, Share } from "./BodyBudget.js"

/** Said when the body was left unread: the connection cannot carry another request. */
const CLOSE = { connection: "close" }

const isJson = (contentType: string): boolean => {
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase()
  return mediaType === "application/json" || mediaType.endsWith("+json")
}

/** An outcome and which configured secret verified the request. */
type Received = Outcome & { readonly secretIndex: number }

/** An answer of the webhook endpoint: its status, its JSON body and any headers of its own. */
interface Answer {
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

interface Handled {
  readonly answer: Answer
  /** What the request log line and the metrics need to know. */
  readonly received?: Received
  readonly error?: string
}

const refused = (status: number, error: string, message: string, headers: Record<string, string> = {}): Handled => ({
  answer: { status, body: { error, message }, headers },
  error
})

const unavailable = (error: string, message: string): Handled =>
  refused(503, error, `not accepted: ${message}; send it again later`, { "retry-after": "60" })

export interface WebhookSettings {
  readonly maxBodyBytes: number
  readonly budget: BodyBudget
}

/** POST on the webhook path: every answer the endpoint gives is decided here. */
const handle = (
  receiver: Receiver["Type"],
  signature: Signature["Type"],
  metrics: Metrics["Type"],
  settings: WebhookSettings,
  request: IncomingMessage,
  share: Share
): Effect.Effect<Handled> => {
  if (!isJson(request.headers["content-type"] ?? "")) {
    return Effect.succeed(refused(415, "unsupported_media_type", "Content-Type must be application/json", CLOSE))
  }
  const verifier = signature.begin(request.headers)
  if (Either.isLeft(verifier)) {
    metrics.signatureFailures.inc({ reason: verifier.left.reason })
    return Effect.succeed({
      ...refused(401, "invalid_signature", verifier.left.message, CLOSE),
      error: `signature_${verifier.left.reason}`
    })
  }
  return Effect.flatMap(
    readBody(request, settings.maxBodyBytes, share, verifier.right.update),
    (body): Effect.Effect<Handled, SignatureError | ReceiveError> => {
      const verified = verifier.right.finish(body)
      if (Either.isLeft(verified)) return Effect.fail(verified.left)
      return Effect.map(receiver.receive(verified.right), (outcome): Handled => {
        const received = { ...outcome, secretIndex: verified.right.secretIndex }
        return { answer: answer(received), received }
      })
    }
  ).pipe(
    Effect.catchTags({
      BodyTooLarge: (error) =>
        Effect.succeed(
          refused(413, "payload_too_large", `body is over MAX_BODY_BYTES (${error.limit} bytes)`, CLOSE)
        ),
      OverBudget: () =>
        Effect.sync(() => {
          metrics.overCapacity.inc({ limit: "body_budget" })
          return refused(503, "busy", "too many bytes in flight; send it again later", {
            ...CLOSE,
            "retry-after": "10"
          })
        }),
      BodyUnreadable: (error) =>
        Effect.succeed(refused(400, "bad_request", `body could not be read: ${error.message}`)),
      SignatureError: (error) =>
        Effect.sync(() => {
          metrics.signatureFailures.inc({ reason: error.reason })
          return { ...refused(401, "invalid_signature", error.message), error: `signature_${error.reason}` }
        }),
      MalformedNotification: (error) => Effect.succeed(refused(400, "malformed_notification", error.message)),
      SinksUnavailable: (error) =>
        Effect.as(
          Effect.logError("sink unavailable").pipe(
            Effect.annotateLogs("failures", error.failures.map((failure) => `${failure.sink}: ${failure.message}`))
          ),
          unavailable("sink_unavailable", `${error.failures.map((failure) => failure.sink).join(", ")} unavailable`)
        ),
      StoreUnavailable: (error) =>
        Effect.as(
          Effect.logError("store unavailable").pipe(Effect.annotateLogs("error", error.message)),
          unavailable("storage_unavailable", "storage unavailable")
        ),
      OutboxFull: (error) =>
        Effect.as(
          Effect.logError("outbox full").pipe(Effect.annotateLogs("limit", error.limit)),
          unavailable("outbox_full", "too many deliveries waiting")
        )
    })
  )
}

/** The longest part of an unexpected error's description that is logged. */
const MAX_DEFECT_LOG = 2000

/** No input a client can send gets here; if something does, it is answered, logged and counted, never silent. */
const unexpected = (metrics: Metrics["Type"]) => (defect: unknown) =>
  Effect.sync(() => metrics.unexpectedErrors.inc()).pipe(
    Effect.zipRight(
      Effect.logError("unexpected error").pipe(
        Effect.annotateLogs("defect", Cause.pretty(Cause.die(defect)).slice(0, MAX_DEFECT_LOG))
      )
    ),
    Effect.as<Handled>(refused(500, "internal_error", "the service failed unexpectedly; it has been logged"))
  )

/** Counts what happened, with label values from bounded sets. */
const count = (metrics: Metrics["Type"], received: Received) => {
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

/**
 * Writes an info line through the runtime's loggers as `Effect.logInfo` in a fiber of that runtime would (same loggers,
 * same minimum level, no annotations or spans, which the request's fiber never has), from its observer: logging from
 * inside the fiber copied the fiber's locals for every line. Undefined when info lines are not logged.
 */
const infoLine = (runtime: Runtime.Runtime<never>) => {
  const context = runtime.fiberRefs
  const loggers = FiberRefs.getOrDefault(context, FiberRef.currentLoggers)
  if (LogLevel.greaterThan(FiberRefs.getOrDefault(context, FiberRef.currentMinimumLogLevel), LogLevel.Info)) return
  const annotations = HashMap.empty<string, unknown>()
  const spans = List.empty<never>()
  return (fiberId: FiberId.FiberId, message: Annotated) => {
    const date = new Date()
    for (const logger of loggers) {
      logger.log({
        fiberId,
        logLevel: LogLevel.Info,
        message: [message],
        cause: Cause.empty,
        context,
        spans,
        annotations,
        date
      })
    }
  }
}

/** The request's one log line, its fields carried by the message (see `Annotated`). */
const requestLine = ({ answer, error, received }: Handled, started: number) =>
  new Annotated("webhook", {
    status: answer.status,
    duration_ms: Math.round((performance.now() - started) * 100) / 100,
    ...(received === undefined ? {} : {
      topic: received.notification.topic ?? "none",
      intercom_topic: received.notification.intercomTopic,
      id: received.notification.id ?? "-",
      outcome: received.status,
      ...(received.notification.schemaMismatch === undefined ? {} : { schema: "mismatch" }),
      secret_index: received.secretIndex
    }),
    ...(error === undefined ? {} : { error })
  })

const send = (response: ServerResponse, { body, headers, status }: Answer) => {
  const json = JSON.stringify(body)
  response.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json)
  })
  response.end(json)
}

/**
 * The webhook endpoint as a Node `request` listener: each request is one fiber of the app's runtime, which decides the
 * answer; its observer counts, writes the request's log line and answers. It is served outside `HttpServer.serve`, whose
 * request and response wrappers, context and response effects cost about as much as the rest of the HTTP handling here;
 * a client that goes away before its answer interrupts the fiber, as the platform's handler does. The request's share
 * of `BODY_BUDGET_BYTES` is given back when its fiber ends, however it ends.
 */
export const webhook = (metrics: Metrics["Type"], settings: WebhookSettings) =>
  Effect.gen(function*() {
    const receiver = yield* Receiver
    const signature = yield* Signature
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const log = infoLine(runtime)
    return (request: IncomingMessage, response: ServerResponse): void => {
      const started = performance.now()
      const share = settings.budget.share()
      const fiber = runFork(
        Effect.catchAllDefect(handle(receiver, signature, metrics, settings, request, share), unexpected(metrics))
      )
      const answered = (handled: Handled) => {
        if (response.writableEnded) return
        metrics.requests.inc({ status: String(handled.answer.status) })
        send(response, handled.answer)
      }
      // Anything thrown after the answer was decided (counting, logging) is still answered 500, counted and logged.
      const failed = (defect: unknown) =>
        runFork(unexpected(metrics)(defect)).addObserver(Exit.match({ onFailure: () => {}, onSuccess: answered }))
      fiber.addObserver((exit) => {
        share.release()
        // Interrupted: the client went away.
        if (Exit.isFailure(exit)) {
          return Cause.isInterruptedOnly(exit.cause)
            ? undefined
            : failed(Cause.squash(exit.cause))
        }
        try {
          if (exit.value.received !== undefined) count(metrics, exit.value.received)
          log?.(fiber.id(), requestLine(exit.value, started))
        } catch (defect) {
          return failed(defect)
        }
        answered(exit.value)
      })
      response.once("close", () => {
        if (!response.writableEnded) fiber.unsafeInterruptAsFork(FiberId.none)
      })
    }
  })
