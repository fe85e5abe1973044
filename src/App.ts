import { Layer } from "effect"
import * as Console from "./console/Console.js"
import * as Http from "./http/Endpoints.js"
import * as NodeServer from "./http/NodeServer.js"
import { NotificationLog } from "./log/NotificationLog.js"
import { DriftCapture } from "./ops/DriftCapture.js"
import { Metrics } from "./ops/Metrics.js"
import { DeadLetters } from "./pipeline/DeadLetters.js"
import * as Delivery from "./pipeline/Delivery.js"
import { SinkHealths } from "./pipeline/Delivery/SinkHealth.js"
import { Decoder } from "./pipeline/Notification.js"
import { Receiver } from "./pipeline/Receiver.js"
import { Router } from "./pipeline/Router.js"
import { Signature } from "./pipeline/Signature.js"
import * as Reconciler from "./reconcile/Reconciler.js"
import * as SinkRegistry from "./sinks/SinkRegistry.js"
import * as Store from "./store/Store.js"

/** The store, the sinks and the dead letters, needing only the configuration. */
export const CoreLive = Layer.mergeAll(
  Signature.layer,
  Decoder.Default,
  DeadLetters.layer,
  SinkRegistry.layer,
  DriftCapture.layer
).pipe(
  Layer.provideMerge(Metrics.layer),
  Layer.provideMerge(SinkHealths.layer),
  Layer.provideMerge(Store.layer)
)

/**
 * Verify -> decode -> dedupe -> route -> deliver or queue, the workers that empty the outbox, gap recovery (on with an
 * access token) and the operator console (on with its token).
 */
export const ReceiverLive = Layer.mergeAll(
  Receiver.layer.pipe(Layer.provide(Router.layer)),
  Delivery.layer,
  Reconciler.layer,
  Console.layer,
  NotificationLog.layer
).pipe(
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
