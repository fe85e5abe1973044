import { Effect, Layer, Option } from "effect"
import { ReceiverConfig, type StoreSettings } from "../config/ReceiverConfig.js"
import * as PostgresOutbox from "./PostgresOutbox.js"
import * as SqliteOutbox from "./SqliteOutbox.js"

/** The store the settings choose: PostgreSQL when `STORE_URL` is set, else the embedded SQLite at `STORE_PATH`. */
export const layerWith = (config: StoreSettings) =>
  Option.match(config.storeUrl, {
    onNone: () => SqliteOutbox.layerWith(config),
    onSome: (url) => PostgresOutbox.layerWith(config, url)
  })

/** Where the store is, as it may be logged (never a password). */
export const describe = (config: StoreSettings): string =>
  Option.match(config.storeUrl, {
    onNone: () => `SQLite at ${config.storePath}`,
    onSome: (url) => `PostgreSQL at ${PostgresOutbox.shown(url)}`
  })

/** The store of `ReceiverConfig`. */
export const layer = Layer.unwrapEffect(
  Effect.map(ReceiverConfig, (config) =>
    layerWith(config).pipe(
      Layer.tap(() => Effect.logInfo("store open").pipe(Effect.annotateLogs("store", describe(config))))
    ))
)
