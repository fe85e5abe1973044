import { HttpMiddleware, HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration, Effect, Layer, Option } from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import { ReceiverConfig } from "../config/ReceiverConfig.js"
import { Metrics } from "../ops/Metrics.js"
import { Sinks } from "../sinks/Sink.js"
import { Outbox } from "../store/Outbox.js"
import { makeBodyBudget } from "./BodyBudget.js"
import { NodeServer } from "./NodeServer.js"
import { webhook } from "./Webhook.js"

const reply = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(body, { status, headers })

const problem = (status: number, error: string, message: string, headers: Record<string, string> = {}) =>
  reply(status, { error, message }, headers)

const metricsEndpoint = Effect.flatMap(Metrics, (metrics) =>
  Effect.promise(() => metrics.registry.metrics()).pipe(
    Effect.map((text) => HttpServerResponse.text(text, { status: 200, contentType: metrics.registry.contentType }))
  ))

const notFound = Effect.succeed(problem(404, "not_found", "no such endpoint"))

const methodNotAllowed = Effect.succeed(
  problem(405, "method_not_allowed", "the webhook path answers POST and HEAD", { allow: "POST, HEAD" })
)

/** How long a readiness check's answer is reused: the check writes to the store, and anyone may ask. */
const READINESS_TTL = Duration.seconds(1)

/**
 * 200 only while the store commits and every sink can take notifications. The check runs at most once per
 * `READINESS_TTL` whatever the request rate; the answer says only ready or not (it is public), and what is wrong goes to
 * the log when it changes.
 */
const readiness = Effect.gen(function*() {
  const outbox = yield* Outbox
  const sinks = yield* Sinks
  let reported: ReadonlyArray<string> = []
  const check = Effect.gen(function*() {
    const problems: Array<string> = []
    const probe = yield* Effect.either(outbox.probe)
    if (probe._tag === "Left") problems.push(`store: ${probe.left.message}`)
    for (const sink of sinks.values()) {
      if (sink.problem !== undefined) problems.push(...Option.toArray(yield* sink.problem))
    }
    if (problems.join("\n") !== reported.join("\n")) {
      yield* problems.length === 0
        ? Effect.logInfo("ready again")
        : Effect.logWarning("not ready").pipe(Effect.annotateLogs("problems", problems))
      reported = problems
    }
    return problems.length === 0
  })
  const ready = yield* Effect.cachedWithTTL(check, READINESS_TTL)
  return Effect.map(ready, (ok) =>
    ok
      ? reply(200, { status: "ready" })
      : reply(503, { status: "unready" }, { "retry-after": "10" }))
})

const pathOf = (url: string) => {
  const query = url.indexOf("?")
  return query === -1 ? url : url.slice(0, query)
}

/**
 * The router matches paths loosely (case, repeated slashes, percent-encoding); the webhook path is served only when the
 * request names it exactly, so what the README documents is what is served.
 */
const exactly = <E, R>(path: string, handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.flatMap(
    HttpServerRequest.HttpServerRequest,
    (request) => pathOf(request.url) === path ? handler : notFound
  )

/** Every route but the webhook's POST: URL validation by HEAD, wrong methods, liveness, readiness and metrics. */
const routes = (path: string, ready: Effect.Effect<HttpServerResponse.HttpServerResponse>) => {
  const route = path as HttpRouter.PathInput
  return HttpRouter.empty.pipe(
    HttpRouter.head(route, exactly(path, Effect.succeed(HttpServerResponse.empty({ status: 200 })))),
    HttpRouter.get(route, exactly(path, methodNotAllowed)),
    HttpRouter.put(route, exactly(path, methodNotAllowed)),
    HttpRouter.patch(route, exactly(path, methodNotAllowed)),
    HttpRouter.del(route, exactly(path, methodNotAllowed)),
    HttpRouter.options(route, exactly(path, methodNotAllowed)),
    HttpRouter.get("/healthz", Effect.succeed(reply(200, { status: "ok" }))),
    HttpRouter.get("/readyz", ready),
    HttpRouter.get("/metrics", metricsEndpoint),
    Effect.catchTag("RouteNotFound", () => notFound)
  )
}

/**
 * Serves the webhook endpoint and the routes on the Node server under the provided `HttpServer`. On shutdown it first
 * stops accepting connections and lets requests in flight finish (up to `SHUTDOWN_TIMEOUT`), answering them with
 * `Connection: close`.
 */
export const layer = Layer.scopedDiscard(
  Effect.gen(function*() {
    const config = yield* ReceiverConfig
    const node = yield* NodeServer
    const metrics = yield* Metrics
    const path = config.webhookPath
    const post = yield* webhook(metrics, {
      maxBodyBytes: config.maxBodyBytes,
      budget: makeBodyBudget(config.bodyBudgetBytes)
    })
    const app = Effect.map(routes(path, yield* readiness), (response) => {
      metrics.requests.inc({ status: String(response.status) })
      return response
    })
    const served = yield* NodeHttpServer.makeHandler(app).pipe(
      Effect.locally(HttpMiddleware.currentTracerDisabledWhen, () => true)
    )
    // Nearly every request is a POST on the webhook path, named exactly (the router matches paths loosely): it goes
    // straight to its listener. Anything else goes through the router.
    const listener = (request: IncomingMessage, response: ServerResponse) =>
      request.method === "POST" && pathOf(request.url!) === path
        ? post(request, response)
        : served(request, response)
    node.server.on("request", listener)
    yield* Effect.addFinalizer(() => Effect.sync(() => node.server.off("request", listener)))
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
