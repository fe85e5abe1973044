import { HttpMiddleware, HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, LogLevel, Option } from "effect"
import { ReceiverConfig } from "../config/ReceiverConfig.js"
import { Metrics } from "../ops/Metrics.js"
import { type Received, Receiver } from "../pipeline/Receiver.js"
import { Sinks } from "../sinks/Sink.js"
import { Outbox } from "../store/Outbox.js"
import { readBody } from "./Body.js"
import { NodeServer } from "./NodeServer.js"

const reply = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(body, { status, headers })

const problem = (status: number, error: string, message: string, headers: Record<string, string> = {}) =>
  reply(status, { error, message }, headers)

const isJson = (contentType: string): boolean => {
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase()
  return mediaType === "application/json" || mediaType.endsWith("+json")
}

const accepted = (received: Received) =>
  reply(200, {
    status: received.status,
    topic: received.notification.topic,
    intercom_topic: received.notification.intercomTopic,
    id: received.notification.id,
    ...(received.notification.schemaMismatch === undefined
      ? {}
      : { schema: "mismatch", schema_error: received.notification.schemaMismatch }),
    ...(received.status === "accepted" ? { sinks: received.sinks, queued: received.queued } : {}),
    ...(received.status === "dead_lettered" ? { reason: received.reason } : {})
  })

interface Handled {
  readonly response: HttpServerResponse.HttpServerResponse
  /** What the request log line and the metrics need to know. */
  readonly received?: Received
  readonly error?: string
}

const unavailable = (error: string, message: string): Handled => ({
  response: problem(503, error, `not accepted: ${message}; send it again later`, { "retry-after": "60" }),
  error
})

/** POST on the webhook path: every answer the endpoint gives is decided here. */
const handle = (
  receiver: Receiver["Type"],
  metrics: Metrics["Type"],
  maxBodyBytes: number,
  request: HttpServerRequest.HttpServerRequest
): Effect.Effect<Handled> =>
  !isJson(request.headers["content-type"] ?? "")
    ? Effect.succeed({
      response: problem(415, "unsupported_media_type", "Content-Type must be application/json"),
      error: "unsupported_media_type"
    })
    : readBody(request, maxBodyBytes).pipe(
      Effect.flatMap((body) => receiver.receive(request.headers, body)),
      Effect.map((received): Handled => ({ response: accepted(received), received })),
      Effect.catchTags({
        BodyTooLarge: (error) =>
          Effect.succeed({
            response: problem(413, "payload_too_large", `body is over MAX_BODY_BYTES (${error.limit} bytes)`, {
              connection: "close"
            }),
            error: "payload_too_large"
          }),
        BodyUnreadable: (error) =>
          Effect.succeed({
            response: problem(400, "bad_request", `body could not be read: ${error.message}`),
            error: "body_unreadable"
          }),
        SignatureError: (error) =>
          Effect.sync(() => {
            metrics.signatureFailures.inc({ reason: error.reason })
            return { response: problem(401, "invalid_signature", error.message), error: `signature_${error.reason}` }
          }),
        MalformedNotification: (error) =>
          Effect.succeed({
            response: problem(400, "malformed_notification", error.message),
            error: "malformed_notification"
          }),
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

/** Counts what happened. */
const count = (metrics: Metrics["Type"], received: Received) => {
  const notification = received.notification
  metrics.signatureVerified.inc({ secret_index: String(received.secretIndex) })
  metrics.notifications.inc({
    topic: notification.topic ?? "none",
    intercom_topic: notification.intercomTopic,
    outcome: received.status === "dead_lettered" ? received.reason : received.status
  })
  if (received.status === "duplicate") metrics.dedupeHits.inc()
  if (notification.schemaMismatch !== undefined) metrics.decodeFailures.inc({ topic: notification.topic ?? "none" })
}

/** The request's one log line, built only when info lines are logged. */
const logLine = ({ error, received, response }: Handled, started: number) =>
  Effect.whenLogLevel(
    Effect.suspend(() =>
      Effect.log("webhook").pipe(
        Effect.annotateLogs({
          status: response.status,
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
      )
    ),
    LogLevel.Info
  )

/** The webhook endpoint: answers, counts, and writes one log line per request. */
const webhook = (receiver: Receiver["Type"], metrics: Metrics["Type"], maxBodyBytes: number) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const started = performance.now()
    return Effect.flatMap(handle(receiver, metrics, maxBodyBytes, request), (handled) => {
      if (handled.received !== undefined) count(metrics, handled.received)
      return Effect.as(logLine(handled, started), handled.response)
    })
  })

const metricsEndpoint = Effect.flatMap(Metrics, (metrics) =>
  Effect.promise(() => metrics.registry.metrics()).pipe(
    Effect.map((text) => HttpServerResponse.text(text, { status: 200, contentType: metrics.registry.contentType }))
  ))

const methodNotAllowed = Effect.succeed(
  problem(405, "method_not_allowed", "the webhook path answers POST and HEAD", { allow: "POST, HEAD" })
)

/** 200 only while the store commits and every sink can take notifications. */
const readiness = Effect.gen(function*() {
  const outbox = yield* Outbox
  const sinks = yield* Sinks
  const problems: Array<string> = []
  const probe = yield* Effect.either(outbox.probe)
  if (probe._tag === "Left") problems.push(`store: ${probe.left.message}`)
  for (const sink of sinks.values()) {
    if (sink.problem !== undefined) problems.push(...Option.toArray(yield* sink.problem))
  }
  return problems.length === 0
    ? reply(200, { status: "ready" })
    : reply(503, { status: "unready", problems }, { "retry-after": "10" })
})

/** The routes: the webhook endpoint, URL validation by HEAD, liveness and readiness. */
export const router = (
  receiver: Receiver["Type"],
  metrics: Metrics["Type"],
  webhookPath: string,
  maxBodyBytes: number
) => {
  const path = webhookPath as HttpRouter.PathInput
  return HttpRouter.empty.pipe(
    HttpRouter.post(path, webhook(receiver, metrics, maxBodyBytes)),
    HttpRouter.head(path, Effect.succeed(HttpServerResponse.empty({ status: 200 }))),
    HttpRouter.get(path, methodNotAllowed),
    HttpRouter.put(path, methodNotAllowed),
    HttpRouter.patch(path, methodNotAllowed),
    HttpRouter.del(path, methodNotAllowed),
    HttpRouter.options(path, methodNotAllowed),
    HttpRouter.get("/healthz", Effect.succeed(reply(200, { status: "ok" }))),
    HttpRouter.get("/readyz", readiness),
    HttpRouter.get("/metrics", metricsEndpoint),
    Effect.catchTag("RouteNotFound", () => Effect.succeed(problem(404, "not_found", "no such endpoint")))
  )
}

/**
 * Serves the routes on the provided `HttpServer`. On shutdown it first stops accepting connections and lets
 * requests in flight finish (up to `SHUTDOWN_TIMEOUT`), answering them with `Connection: close`.
 */
export const layer = Layer.scopedDiscard(
  Effect.gen(function*() {
    const config = yield* ReceiverConfig
    const node = yield* NodeServer
    const metrics = yield* Metrics
    const routes = router(yield* Receiver, metrics, config.webhookPath, config.maxBodyBytes)
    const app = Effect.map(routes, (response) => {
      metrics.requests.inc({ status: String(response.status) })
      return response
    })
    yield* HttpServer.serveEffect(app).pipe(Effect.locally(HttpMiddleware.currentTracerDisabledWhen, () => true))
    node.ready()
    yield* HttpServer.logAddress
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(node.drain, (unfinished) =>
        Effect.logInfo("stopped accepting; requests in flight finished").pipe(
          Effect.annotateLogs("unfinished", unfinished)
        ))
    )
  })
)
