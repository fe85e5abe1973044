/**
 * npm run reconcile -- --since ISO [--until ISO] [--deletions] [--app-id ID]
 * Reads what changed in Intercom in a window through its REST API and applies it to the mirror's tables, as the
 * service's sweeps do, then prints what it changed.
 */
import { Console, Duration, Effect, Option } from "effect"
import { existsSync } from "node:fs"
import { configMessages } from "../src/config/ConfigMessages.js"
import { storeSettings } from "../src/config/ReceiverConfig.js"
import { reconcileSettings } from "../src/config/ReconcileConfig.js"
import { isoTime } from "../src/ops/IsoTime.js"
import * as IntercomApi from "../src/reconcile/IntercomApi.js"
import { emptyTally, sweep, type SweepTally } from "../src/reconcile/Sweep.js"
import { ReconcileStore } from "../src/store/Reconcile.js"
import * as Store from "../src/store/Store.js"
import { main, UsageError } from "./cli/Args.js"

const command = {
  name: "reconcile",
  usage: "usage: npm run reconcile -- --since ISO [--until ISO] [--deletions] [--app-id ID]",
  help: `Reads the contacts and conversations Intercom changed from --since on through its REST API (the token of
INTERCOM_ACCESS_TOKEN, or of INTERCOM_ACCESS_TOKENS) and applies them to the mirror's tables with the same version rule
as notifications: an object older than the row changes nothing. The store is the service's: STORE_URL, else
STORE_PATH (default $DATA_DIR/receiver.db), which must exist. The service may run meanwhile.
  --since ISO   the start of the window: 2026-01-10, or 2026-01-10T00:00:00Z (with an offset)
  --until ISO   the end of the window, for the record (default now): Intercom's search has no upper bound here, so
                objects changed later are read too, and applied as the newer states they are
  --deletions   also list every contact, and mark deleted those the mirror holds that Intercom answers 404 for
  --app-id ID   only the workspace of this app_id (with INTERCOM_ACCESS_TOKENS)
Prints what it read and changed. The service's watermark is left alone.
Exit code: 0 done, 1 failed (Intercom or the store could not be read), 2 usage (a wrong option or setting).`,
  options: { since: "string", until: "string", deletions: "boolean", "app-id": "string" },
  positionals: 0
} as const

const report = (workspace: string, since: Date, until: Date, tally: SweepTally, seconds: number, waits: number) => {
  const changed = (table: keyof SweepTally["rows"]) =>
    `${tally.rows[table].applied} changed, ${tally.rows[table].unchanged} unchanged`
  return [
    `workspace ${workspace}: ${since.toISOString()} .. ${until.toISOString()} in ${seconds.toFixed(1)} s`,
    `  contacts:       ${tally.read.contacts} read, ${changed("intercom_contacts")}`,
    `  conversations:  ${tally.read.conversations} read, ${changed("intercom_conversations")}`,
    `  tag links:      ${changed("intercom_contact_tags")}`,
    `  deleted:        ${tally.deleted} contact(s) marked deleted, of ${tally.checked} looked up`,
    `  refused:        ${tally.refused}`,
    `  calls:          ${tally.pages.contacts + tally.pages.conversations + tally.pages.listing} page(s), ` +
    `${waits} rate-limit wait(s)`
  ].join("\n")
}

const usage = (error: Parameters<typeof configMessages>[0]) =>
  new UsageError({ message: configMessages(error).map((message) => `Configuration error: ${message}`).join("; ") })

main(command, ({ options }) =>
  Effect.gen(function*() {
    const since = Option.flatMap(Option.fromNullable(options.since), isoTime)
    if (Option.isNone(since)) {
      return yield* new UsageError({
        message: options.since === undefined
          ? "--since is required: the start of the window, such as 2026-01-10T00:00:00Z"
          : `--since must be an ISO 8601 date or time with an offset, got "${options.since}"`
      })
    }
    const until = options.until === undefined ? Option.some(new Date()) : isoTime(options.until)
    if (Option.isNone(until) || until.value < since.value) {
      return yield* new UsageError({
        message: `--until must be an ISO 8601 time not before --since, got "${options.until}"`
      })
    }
    const store = yield* Effect.mapError(storeSettings, usage)
    const settings = yield* Effect.mapError(reconcileSettings, usage)
    if (settings.workspaces.length === 0) {
      return yield* new UsageError({
        message: "no access token: set INTERCOM_ACCESS_TOKEN (or INTERCOM_ACCESS_TOKENS as app_id=token,...)"
      })
    }
    const chosen = settings.workspaces.filter((workspace) =>
      options["app-id"] === undefined || workspace.key === options["app-id"]
    )
    if (chosen.length === 0) {
      return yield* new UsageError({ message: `--app-id ${options["app-id"]} has no token in INTERCOM_ACCESS_TOKENS` })
    }
    if (Option.isNone(store.storeUrl) && !existsSync(store.storePath)) {
      return yield* new UsageError({
        message: `no store at ${store.storePath}: set DATA_DIR or STORE_PATH to the service's (or STORE_URL)`
      })
    }
    const window = {
      since: Math.floor(since.value.getTime() / 1000),
      until: Math.floor(until.value.getTime() / 1000),
      deletions: options.deletions === true
    }
    yield* Effect.gen(function*() {
      const reconcile = yield* ReconcileStore
      for (const workspace of chosen) {
        let waits = 0
        const api = yield* IntercomApi.make(settings, workspace, () => waits++)
        const started = Date.now()
        const tally = yield* sweep(
          { api, store: reconcile, workspace: workspace.key, persist: false, concurrency: settings.concurrency },
          { window, phase: "contacts", cursor: null },
          emptyTally()
        ).pipe(Effect.timeout(Duration.hours(24)))
        yield* Console.log(report(workspace.key, since.value, until.value, tally, (Date.now() - started) / 1000, waits))
      }
    }).pipe(Effect.provide(Store.layerWith(store, "tool")))
  }))
