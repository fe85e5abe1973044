import { NodeHttpServer } from "@effect/platform-node"
import { Context, Duration, Effect, Layer } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { ReceiverConfig } from "./ReceiverConfig.js"

/** The Node server under the `HttpServer`, for what the platform does not expose: start-up and draining. */
export class NodeServer extends Context.Tag("NodeServer")<NodeServer, {
  readonly server: Server
  /** Stops answering "starting": call once the app's handler is attached. */
  readonly ready: () => void
}>() {}

/**
 * Until the app's handler is attached, a request would find no listener and hang: it is answered 503 with
 * `Retry-After: 1` instead.
 */
const starting = (_request: IncomingMessage, response: ServerResponse) =>
  response.writeHead(503, { "content-type": "application/json", "retry-after": "1" })
    .end("{\"error\":\"starting\",\"message\":\"the service is starting; send it again in a second\"}")

/** A Node HTTP server on `HOST`:`PORT` with request and header timeouts against slow clients. */
export const layer = Layer.unwrapEffect(
  Effect.map(ReceiverConfig, (config) => {
    const server = createServer({
      requestTimeout: Duration.toMillis(config.requestTimeout),
      headersTimeout: Duration.toMillis(config.headersTimeout)
    })
    server.on("request", starting)
    return Layer.merge(
      NodeHttpServer.layer(() => server, { host: config.host, port: config.port }),
      Layer.succeed(NodeServer, { server, ready: () => void server.off("request", starting) })
    )
  })
)
