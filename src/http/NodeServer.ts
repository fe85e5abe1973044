import { NodeHttpServer } from "@effect/platform-node"
import { Context, Data, Duration, Effect, Layer, Schedule } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { Socket } from "node:net"
import { ReceiverConfig } from "../config/ReceiverConfig.js"
import { Metrics } from "../ops/Metrics.js"
import { InFlight } from "./InFlight.js"

/** The Node server under the `HttpServer`, for what the platform does not expose: start-up and draining. */
export class NodeServer extends Context.Tag("NodeServer")<NodeServer, {
  readonly server: Server
  /** Stops answering "starting": call once the app's handler is attached. */
  readonly ready: () => void
  /**
   * Stops accepting connections, answers what is in flight with `Connection: close` and waits for those answers
   * (up to `SHUTDOWN_TIMEOUT`); yields how many were left unfinished.
   */
  readonly drain: Effect.Effect<number>
}>() {}

/** The server cannot listen on `HOST`:`PORT`; the message says why, as Node does, and what to change. */
export class ListenError extends Data.TaggedError("ListenError")<{ readonly message: string }> {}

const HINTS: Record<string, string> = {
  EADDRINUSE: "another process listens there: stop it or choose another PORT",
  EACCES: "this process may not listen there: choose a PORT from 1024",
  EADDRNOTAVAIL: "HOST is not an address of this machine",
  ENOTFOUND: "HOST is not a name this machine can resolve",
  EAI_AGAIN: "HOST could not be resolved now"
}

const listenError = (host: string, port: number) => (error: { readonly cause: unknown }) => {
  const cause = error.cause as NodeJS.ErrnoException | undefined
  const hint = HINTS[cause?.code ?? ""]
  return new ListenError({
    message: `cannot listen on ${host}:${port}: ${cause?.message ?? String(error.cause)}${hint ? ` (${hint})` : ""}`
  })
}

/**
 * Until the app's handler is attached, a request would find no listener and hang: it is answered 503 with
 * `Retry-After: 1` instead.
 */
const starting = (_request: IncomingMessage, response: ServerResponse) =>
  response.writeHead(503, { "content-type": "application/json", "retry-after": "1" })
    .end("{\"error\":\"starting\",\"message\":\"the service is starting; send it again in a second\"}")

const BUSY = "{\"error\":\"busy\",\"message\":\"too many connections; send it again later\"}"

/** Written on a connection over `MAX_CONNECTIONS` before it is closed, without reading anything from it. */
const busy = [
  "HTTP/1.1 503 Service Unavailable",
  "content-type: application/json",
  `content-length: ${BUSY.length}`,
  "retry-after: 10",
  "connection: close",
  "",
  BUSY
].join("\r\n")

/**
 * A Node HTTP server on `HOST`:`PORT` with request and header timeouts against slow clients, enforced within a second
 * of their setting (Node looks for expired connections every 30 s unless told otherwise), and at most `MAX_CONNECTIONS`
 * open connections. Requests in flight are counted here, with Node's own events, rather than around every request in
 * the Effect app.
 */
export const layer = Layer.unwrapEffect(
  Effect.map(Effect.all([ReceiverConfig, Metrics]), ([config, metrics]) => {
    const server = createServer({
      requestTimeout: Duration.toMillis(config.requestTimeout),
      headersTimeout: Duration.toMillis(config.headersTimeout),
      connectionsCheckingInterval: 250
    })
    let connections = 0
    server.on("connection", (socket: Socket) => {
      connections++
      socket.once("close", () => connections--)
      if (connections > config.maxConnections) {
        metrics.overCapacity.inc({ limit: "connections" })
        socket.pause()
        socket.end(busy, () => socket.destroy())
      }
    })
    const inFlight = new InFlight()
    let draining = false
    server.on("request", (_request: IncomingMessage, response: ServerResponse) => {
      inFlight.add(response)
      if (draining) response.setHeader("connection", "close")
    })
    server.on("request", starting)
    const drain = Effect.suspend(() => {
      draining = true
      // A request that arrived before the drain (its body may still be coming) must not leave its connection open.
      inFlight.forEach((response) => {
        if (!response.headersSent) response.setHeader("connection", "close")
      })
      server.close()
      server.closeIdleConnections()
      return Effect.sync(() => inFlight.size).pipe(
        Effect.repeat({ schedule: Schedule.spaced(Duration.millis(10)), until: (count) => count === 0 }),
        Effect.timeout(config.shutdownTimeout),
        Effect.orElseSucceed(() => inFlight.size)
      )
    })
    return Layer.merge(
      NodeHttpServer.layer(() => server, { host: config.host, port: config.port }).pipe(
        Layer.mapError(listenError(config.host, config.port))
      ),
      Layer.succeed(NodeServer, { server, ready: () => void server.off("request", starting), drain })
    )
  })
)
