import { NodeHttpClient } from "@effect/platform-node"
import { Layer } from "effect"
import { DeadLetters } from "./DeadLetters.js"
import * as Delivery from "./Delivery.js"
import { DriftCapture } from "./DriftCapture.js"
import * as Http from "./Http.js"
import { Metrics } from "./Metrics.js"
import * as NodeServer from "./NodeServer.js"
import { Decoder } from "./Notification.js"
import { Receiver } from "./Receiver.js"
import { Router } from "./Router.js"
import { Signature } from "./Signature.js"
import * as SinkRegistry from "./SinkRegistry.js"
import * as SqliteOutbox from "./SqliteOutbox.js"

/** The store, the sinks and the dead letters, needing only the configuration. */
export const CoreLive = Layer.mergeAll(
  Signature.layer,
  Decoder.Default,
  DeadLetters.layer,
  SinkRegistry.layer,
  DriftCapture.layer
).pipe(
  Layer.provideMerge(Metrics.layer),
  Layer.provideMerge(SqliteOutbox.layer),
  Layer.provide(NodeHttpClient.layerUndici)
)

/** Verify -> decode -> dedupe -> route -> deliver or queue, and the workers that empty the outbox. */
export const ReceiverLive = Layer.mergeAll(Receiver.layer.pipe(Layer.provide(Router.layer)), Delivery.layer).pipe(
  Layer.provideMerge(CoreLive)
)

/**
 * The whole service for a given configuration, the `HttpServer` kept in the output so that callers can read its
 * address. Typed handlers join when the program provides them: `App.layer.pipe(Layer.provide(Handlers.layer(...)))`.
 * The store and sinks are ready before the port opens. On shutdown the HTTP side drains first, then the workers stop, then the store closes. Tracing is off: nothing
 * exports spans, and creating them for every request, query and fiber cost a measurable share of throughput.
 */
export const layer = Http.layer.pipe(
  Layer.provideMerge(NodeServer.layer),
  Layer.provideMerge(ReceiverLive),
  Layer.provide(Layer.setTracerEnabled(false))
)
