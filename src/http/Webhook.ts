import {
  Cause,
  Effect,
  Either,
  Exit,
  type Fiber,
  FiberId,
  FiberRef,
  FiberRefs,
  HashMap,
  List,
  LogLevel,
  Runtime
} from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import { Annotated } from "../ops/LogLines.js"
import type { Metrics } from "../ops/Metrics.js"
import { type Outcome, type ReceiveError, Receiver } from "../pipeline/Receiver.js"
import { Signature, type SignatureError, type Verified, type Verifier } from "../pipeline/Signature.js"
import { type BodyError, readBody } from "./Body.js"
import type { BodyBudget } from "./BodyBudget.js"

/** Said when the body was left unread: the connection cannot carry another request. */
const CLOSE = { connection: "close" }

const isJson = (contentType: string): boolean => {
  if (contentType === "application/json") return true
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

const signatureRefused = (
  metrics: Metrics["Type"],
  error: SignatureError,
  headers: Record<string, string> = {}
): Handled => {
  metrics.signatureFailures.inc({ reason: error.reason })
  return { ...refused(401, "invalid_signature", error.message, headers), error: `signature_${error.reason}` }
}

/** Refusals decided from the headers alone, before any byte of the body is read. */
const admit = (
  signature: Signature["Type"],
  metrics: Metrics["Type"],
  request: IncomingMessage
): Either.Either<Verifier, Handled> => {
  if (!isJson(request.headers["content-type"] ?? "")) {
    return Either.left(refused(415, "unsupported_media_type", "Content-Type must be application/json", CLOSE))
  }
  return Either.mapLeft(signature.begin(request.headers), (error) => signatureRefused(metrics, error, CLOSE))
}

const bodyRefused = (metrics: Metrics["Type"], error: BodyError): Handled => {
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

const receiveRefused = (error: ReceiveError): Effect.Effect<Handled> => {
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
class Answered implements Handled {
  readonly answer: Answer
  constructor(readonly received: Received) {
    this.answer = answer(received)
  }
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
 * The webhook endpoint as a Node `request` listener. The headers and the body are checked here, with plain callbacks
 * (a refusal needs no fiber); a verified body then runs through the pipeline as one fiber of the app's runtime, whose
 * observer answers. Every answer is counted and logged (one line) before it is written. It is served outside
 * `HttpServer.serve`, whose request and response wrappers, context and response effects cost about as much as the rest
 * of the HTTP handling here. A client that goes away stops the reading of its body, or interrupts the fiber, as the
 * platform's handler does. The request's share of `BODY_BUDGET_BYTES` is given back once it is answered or abandoned.
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
      const answered = (handled: Handled) => {
        if (response.writableEnded) return
        metrics.requests.inc({ status: String(handled.answer.status) })
        send(response, handled.answer)
      }
      // Anything thrown after the answer was decided (counting, logging) is still answered 500, counted and logged.
      const failed = (defect: unknown) =>
        runFork(unexpected(metrics)(defect)).addObserver(Exit.match({ onFailure: () => {}, onSuccess: answered }))
      const finish = (handled: Handled, fiberId: FiberId.FiberId) => {
        try {
          if (handled.received !== undefined) count(metrics, handled.received)
          log?.(fiberId, requestLine(handled, started))
        } catch (defect) {
          return failed(defect)
        }
        answered(handled)
      }

      const admitted = admit(signature, metrics, request)
      if (Either.isLeft(admitted)) return finish(admitted.left, FiberId.none)
      const verifier = admitted.right
      const share = settings.budget.share()
      let fiber: Fiber.RuntimeFiber<Outcome, ReceiveError> | undefined
      let reading = true
      const stopReading = readBody(request, settings.maxBodyBytes, share, verifier.update, (body) => {
        reading = false
        let verified: Either.Either<Verified, Handled>
        try {
          verified = Either.flatMap(
            Either.mapLeft(body, (error) => bodyRefused(metrics, error)),
            (bytes) => Either.mapLeft(verifier.finish(bytes), (error) => signatureRefused(metrics, error))
          )
        } catch (defect) {
          // Thrown from a stream's event: without this, the process would crash rather than answer 500.
          share.release()
          return failed(defect)
        }
        if (Either.isLeft(verified)) {
          share.release()
          return finish(verified.left, FiberId.none)
        }
        // The fiber runs the pipeline alone: the answer, a refusal and a defect's 500 are made by its observer.
        const { secretIndex } = verified.right
        const running = runFork(receiver.receive(verified.right))
        fiber = running
        running.addObserver((exit) => {
          share.release()
          if (Exit.isSuccess(exit)) return finish(new Answered({ ...exit.value, secretIndex }), running.id())
          // Interrupted: the client went away.
          if (Cause.isInterruptedOnly(exit.cause)) return
          Either.match(Cause.failureOrCause(exit.cause), {
            onLeft: (error) =>
              runFork(Effect.catchAllDefect(receiveRefused(error), unexpected(metrics))).addObserver(
                Exit.match({ onFailure: () => {}, onSuccess: (handled) => finish(handled, running.id()) })
              ),
            onRight: (cause) => failed(Cause.squash(cause))
          })
        })
      })
      response.once("close", () => {
        if (response.writableEnded) return
        if (reading) {
          reading = false
          stopReading()
          share.release()
        } else fiber?.unsafeInterruptAsFork(FiberId.none)
      })
    }
  })
