import { NodeHttpServer } from "@effect/platform-node"
import { Context, Duration, Effect, Layer } from "effect"
import { createServer, type Server } from "node:http"
import { ReceiverConfig } from "./ReceiverConfig.js"

/** The Node server under the `HttpServer`, for what the platform does not expose: draining on shutdown. */
export class NodeServer extends Context.Tag("NodeServer")<NodeServer, Server>() {}

/** A Node HTTP server on `HOST`:`PORT` with request and header timeouts against slow clients. */
export const layer = Layer.unwrapEffect(
  Effect.map(ReceiverConfig, (config) => {
    const server = createServer({
      requestTimeout: Duration.toMillis(config.requestTimeout),
      headersTimeout: Duration.toMillis(config.headersTimeout)
    })
    return Layer.merge(
      NodeHttpServer.layer(() => server, { host: config.host, port: config.port }),
      Layer.succeed(NodeServer, server)
    )
  })
)
