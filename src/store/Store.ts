import { Effect, Layer, Option, Redacted } from "effect"
import { ReceiverConfig, type StoreSettings } from "../config/ReceiverConfig.js"
import { redactUrl } from "../config/Redact.js"
import type { StoreRole } from "./SqliteOutbox.js"

/** The store the settings choose: PostgreSQL when `STORE_URL` is set, else the embedded SQLite at `STORE_PATH`. */
export const layerWith = (config: StoreSettings, role: StoreRole) =>
  Option.match(config.storeUrl, {
    // Each driver is loaded only when chosen: an app that mounts the webhook without a store loads neither, and the
    // PostgreSQL client costs megabytes of memory at start.
    onNone: () =>
      Layer.unwrapEffect(
        Effect.map(Effect.promise(() => import("./SqliteOutbox.js")), (module) => module.layerWith(config, role))
      ),
    onSome: (url) =>
      Layer.unwrapEffect(
        Effect.map(Effect.promise(() => import("./PostgresOutbox.js")), (module) => module.layerWith(config, url))
      )
  })

/** Where the store is, as it may be logged (never a password). */
export const describe = (config: StoreSettings): string =>
  Option.match(config.storeUrl, {
    onNone: () => `SQLite at ${config.storePath}`,
    onSome: (url) => `PostgreSQL at ${redactUrl(Redacted.value(url))}`
  })

/** The service's store, as `ReceiverConfig` says. */
export const layer = Layer.unwrapEffect(
  Effect.map(ReceiverConfig, (config) =>
    layerWith(config, "service").pipe(
      Layer.tap(() => Effect.logInfo("store open").pipe(Effect.annotateLogs("store", describe(config))))
    ))
)
