// The floor's work (floor-work.mjs) served by @effect/platform's HttpServer on Node, tracing off, nothing else: what
// the HTTP framework alone costs, without anything of this service. Same environment variables as floor.mjs.
import { HttpMiddleware, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeHttpServerRequest, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { receive } from "./floor-work.mjs"

const readBody = (request) =>
  Effect.async((resume) => {
    const source = NodeHttpServerRequest.toIncomingMessage(request)
    const chunks = []
    source.on("data", (chunk) => chunks.push(chunk))
    source.once("end", () => resume(Effect.succeed(Buffer.concat(chunks))))
  })

const answer = (status) =>
  status === 200
    ? HttpServerResponse.unsafeJson({ status: "accepted" })
    : HttpServerResponse.empty({ status })

const app = Effect.flatMap(
  HttpServerRequest.HttpServerRequest,
  (request) =>
    Effect.flatMap(
      readBody(request),
      (body) =>
        Effect.async((resume) =>
          receive(body, request.headers["x-hub-signature"], (status) => resume(Effect.succeed(answer(status))))
        )
    )
)

HttpServer.serve(app).pipe(
  HttpMiddleware.withTracerDisabledWhen(() => true),
  Layer.provide(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: Number(process.env.PORT ?? 8081) })),
  Layer.provide(Layer.setTracerEnabled(false)),
  Layer.launch,
  NodeRuntime.runMain
)
