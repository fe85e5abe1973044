import { ConfigProvider, Effect, Layer, Logger, Option } from "effect"
import { ReceiverConfig, type ReceiverSettings, settings } from "../config/ReceiverConfig.js"
import { DriftCapture } from "../ops/DriftCapture.js"
import * as LogLines from "../ops/LogLines.js"
import { Metrics } from "../ops/Metrics.js"
import { DeadLetters } from "../pipeline/DeadLetters.js"
import * as Delivery from "../pipeline/Delivery.js"
import { SinkHealths } from "../pipeline/Delivery/SinkHealth.js"
import { Decoder } from "../pipeline/Notification.js"
import { Receiver } from "../pipeline/Receiver.js"
import { Router } from "../pipeline/Router.js"
import { Signature } from "../pipeline/Signature.js"
import { Sinks } from "../sinks/Sink.js"
import * as MemoryOutbox from "../store/MemoryOutbox.js"
import * as Store from "../store/Store.js"
import { hooksSink } from "./Hooks.js"
import type { Checked } from "./Options.js"

/** The service's defaults, whatever the environment holds, with what the options say. */
const configLayer = (checked: Checked) =>
  Layer.effect(
    ReceiverConfig,
    Effect.map(
      Effect.withConfigProvider(settings, ConfigProvider.fromMap(new Map([["INTERCOM_CLIENT_SECRET", "options"]]))),
      (defaults): ReceiverSettings => ({
        ...defaults,
        secrets: checked.secrets,
        sinks: [],
        routes: Option.none(),
        captureDir: Option.none(),
        maxBodyBytes: checked.maxBodyBytes,
        bodyBudgetBytes: Math.max(defaults.bodyBudgetBytes, checked.maxBodyBytes),
        dedupeWindow: checked.dedupeWindow,
        maxAttempts: checked.maxAttempts,
        storeUrl: typeof checked.store === "object" && "postgres" in checked.store
          ? Option.some(checked.store.postgres)
          : Option.none(),
        storePath: typeof checked.store === "object" && "sqlite" in checked.store
          ? checked.store.sqlite
          : defaults.storePath
      })
    )
  )

const storeLayer = (checked: Checked) =>
  Layer.unwrapEffect(
    Effect.map(ReceiverConfig, (config) =>
      checked.store === "memory" ? MemoryOutbox.layer(config.dedupeWindow) : Store.layerWith(config, "service"))
  )

const loggerLayer = (level: Checked["logLevel"]) =>
  Layer.merge(Logger.replace(Logger.defaultLogger, LogLines.json), Logger.minimumLogLevel(LogLines.levels[level]))

/**
 * The pipeline behind a mounted webhook: verify, decode, dedupe, then the hooks, called before the answer without a
 * store, or from the outbox's workers after the 200 with one. Nothing is read from the environment.
 */
export const layer = (checked: Checked) => {
  const sink = hooksSink(checked.hooks, checked.store === "memory" ? "inline" : "outbox")
  return Layer.mergeAll(Receiver.layer, Delivery.layer).pipe(
    Layer.provideMerge(Layer.mergeAll(
      Signature.layer,
      Decoder.Default,
      DeadLetters.storeOnly,
      Layer.succeed(DriftCapture, DriftCapture.of({ enabled: false, inspect: () => {} })),
      Layer.succeed(Router, Router.of({ route: () => [sink] })),
      Layer.succeed(Sinks, new Map([[sink.name, sink]]))
    )),
    Layer.provideMerge(Metrics.layer),
    Layer.provideMerge(SinkHealths.layer),
    Layer.provideMerge(storeLayer(checked)),
    Layer.provideMerge(configLayer(checked)),
    Layer.provide(loggerLayer(checked.logLevel)),
    Layer.provide(Layer.setTracerEnabled(false))
  )
}
