import { Duration, Option, Redacted } from "effect"
import { join } from "node:path"
import type { StoreSettings } from "../../src/config/ReceiverConfig.js"

/**
 * A store's settings for a suite or a benchmark: SQLite at `<dir>/receiver.db`, or PostgreSQL at `url`; `overrides`
 * for what the suite is about (a small `outboxMaxRows`, a short statement timeout).
 */
export const storeSettings = (
  where: { readonly dir: string } | { readonly url: string },
  overrides: Partial<StoreSettings> = {}
): StoreSettings => ({
  storeUrl: "url" in where ? Option.some(Redacted.make(new URL(where.url))) : Option.none(),
  storePath: "dir" in where ? join(where.dir, "receiver.db") : "unused",
  storeBusyTimeoutMs: 2000,
  storePoolSize: 2,
  storeStatementTimeout: Duration.seconds(3),
  dedupeWindow: Duration.hours(24),
  outboxMaxRows: 10_000,
  ...overrides
})
