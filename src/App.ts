import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { DeadLetters } from "./DeadLetters.js"
import * as Http from "./Http.js"
import { Decoder } from "./Notification.js"
import { Receiver } from "./Receiver.js"
import { ReceiverConfig } from "./ReceiverConfig.js"
import { Router } from "./Router.js"
import { Signature } from "./Signature.js"
import * as SinkRegistry from "./SinkRegistry.js"

/** Verify -> decode -> route -> sinks, needing only the configuration. */
export const ReceiverLive = Receiver.layer.pipe(
  Layer.provide(Router.layer),
  Layer.provide(Layer.mergeAll(Signature.layer, Decoder.Default, DeadLetters.layer, SinkRegistry.layer)),
  Layer.provide(NodeHttpClient.layerUndici)
)

/** A Node HTTP server on `HOST`:`PORT`, kept in the output so that callers can read its address. */
export const NodeServerLive = Layer.unwrapEffect(
  Effect.map(ReceiverConfig, ({ host, port }) => NodeHttpServer.layer(createServer, { host, port }))
)

/**
 * The whole service for a given configuration. Typed handlers join when the program provides them:
 * `App.layer.pipe(Layer.provide(Handlers.layer({...})))`.
 */
export const layer = Http.layer.pipe(
  Layer.provide(ReceiverLive),
  Layer.provideMerge(NodeServerLive)
)
