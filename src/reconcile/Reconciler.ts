import { Cause, Duration, Effect, Layer, Option, Schedule } from "effect"
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import { ReceiverConfig } from "../config/ReceiverConfig.js"
import { type ReconcileSettings, reconcileSettings, type Workspace } from "../config/ReconcileConfig.js"
import { invalid } from "../config/Values.js"
import { Metrics } from "../ops/Metrics.js"
import { ReconcileStore, type SweepProgress, type SweepWindow } from "../store/Reconcile.js"
import * as IntercomApi from "./IntercomApi.js"
import * as ReconcileMetrics from "./ReconcileMetrics.js"
import { emptyTally, sweep, type SweepTally } from "./Sweep.js"

/** How often the sweeping instance looks for a gap another instance recorded, or for its interval to be up. */
const POLL = Duration.seconds(2)
/** After a sweep that failed, the next try waits this long, doubling up to `RETRY_MAX`. */
const RETRY_FIRST = Duration.seconds(5)
const RETRY_MAX = Duration.minutes(5)

/** A failure's message, or the whole cause for a defect. */
const causeText = (cause: Cause.Cause<{ readonly message: string }>) =>
  Option.match(Cause.failureOption(cause), { onNone: () => Cause.pretty(cause), onSome: (error) => error.message })

const nowSeconds = () => Math.floor(Date.now() / 1000)

const at = (seconds: number) => new Date(seconds * 1000).toISOString()

/** A sweep's tally as log annotations. */
export const summary = (tally: SweepTally) => ({
  pages: tally.pages.contacts + tally.pages.conversations + tally.pages.listing,
  contacts_read: tally.read.contacts,
  conversations_read: tally.read.conversations,
  contacts_changed: tally.rows.intercom_contacts.applied,
  conversations_changed: tally.rows.intercom_conversations.applied,
  tags_linked: tally.rows.intercom_contact_tags.applied,
  unchanged: tally.rows.intercom_contacts.unchanged + tally.rows.intercom_conversations.unchanged +
    tally.rows.intercom_contact_tags.unchanged,
  contacts_deleted: tally.deleted,
  refused: tally.refused
})

/**
 * The next window to sweep, or none: after a gap, from its start (and from the watermark when sweeps run on an
 * interval too); on the interval, from the watermark; each reaching `margin` further back.
 */
export const nextWindow = (
  settings: Pick<ReconcileSettings, "interval" | "margin" | "deletions">,
  state: { readonly watermark: number; readonly pendingSince: number | null },
  now: number
): Option.Option<SweepWindow> => {
  const margin = Math.ceil(Duration.toSeconds(settings.margin))
  const interval = Option.map(settings.interval, Duration.toSeconds)
  if (state.pendingSince !== null) {
    const since = Option.isSome(interval) ? Math.min(state.pendingSince, state.watermark) : state.pendingSince
    return Option.some({ since: Math.max(0, since - margin), until: now, deletions: settings.deletions !== "off" })
  }
  if (Option.isSome(interval) && now - state.watermark >= interval.value) {
    return Option.some({
      since: Math.max(0, state.watermark - margin),
      until: now,
      deletions: settings.deletions === "always"
    })
  }
  return Option.none()
}

/**
 * Gap recovery, on when an access token is configured: every instance records that it is alive in the store; a time
 * longer than `RECONCILE_GAP` when none was (the service down, or its store) is a gap, and the changes Intercom made
 * in it are read from the REST API and applied to the mirror; so are, every `RECONCILE_INTERVAL`, those since the last
 * sweep. One instance sweeps a workspace at a time (a lease in the store), recording its progress page by page.
 * Failures are logged at ERROR, counted, and retried; nothing here stops the receiver.
 */
export const layer = Layer.scopedDiscard(
  Effect.gen(function*() {
    const settings = yield* reconcileSettings
    const config = yield* ReceiverConfig
    if (settings.workspaces.length === 0) return
    if (!config.sinks.includes("mirror")) {
      return yield* Effect.fail(
        invalid(
          settings.workspaces[0]!.key === "default" ? "INTERCOM_ACCESS_TOKEN" : "INTERCOM_ACCESS_TOKENS",
          "is set, but SINKS has no mirror: gap recovery repairs the mirror's tables; add mirror to SINKS or unset it"
        )
      )
    }
    const store = yield* ReconcileStore
    const metrics = ReconcileMetrics.make((yield* Metrics).registry)
    const instance = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`
    const gap = Math.max(1, Math.round(Duration.toSeconds(settings.gap)))
    const keys = settings.workspaces.map((workspace) => workspace.key)

    const beat = Effect.suspend(() => {
      const now = nowSeconds()
      return store.beat(instance, now, gap, keys).pipe(
        Effect.tap((latest) =>
          Option.isSome(latest) && now - latest.value > gap
            ? Effect.sync(() => metrics.gaps.inc()).pipe(
              Effect.zipRight(
                Effect.logWarning("a gap: no instance was alive; its changes will be read from Intercom").pipe(
                  Effect.annotateLogs({ from: at(latest.value), to: at(now), seconds: now - latest.value })
                )
              )
            )
            : Effect.void
        ),
        Effect.catchAllCause((cause) =>
          Effect.sync(() => metrics.beatFailures.inc()).pipe(
            Effect.zipRight(
              Effect.logWarning("could not record that this instance is alive").pipe(
                Effect.annotateLogs("error", causeText(cause))
              )
            )
          )
        )
      )
    })
    yield* beat
    const every = Duration.min(Duration.seconds(10), Duration.millis(Duration.toMillis(settings.gap) / 2))
    yield* beat.pipe(Effect.delay(every), Effect.forever, Effect.forkScoped)

    const sweeps = (workspace: Workspace, api: IntercomApi.IntercomApi) =>
      Effect.gen(function*() {
        let failures = 0
        const events = {
          page: (resource: string) => metrics.pages.inc({ resource }),
          rows: (outcomes: ReadonlyArray<{ table: string; applied: boolean }>) =>
            outcomes.forEach(({ applied, table }) =>
              metrics.rows.inc({ table, outcome: applied ? "applied" : "unchanged" })
            )
        }
        while (true) {
          const now = nowSeconds()
          const state = yield* store.state(workspace.key, now)
          metrics.watermark.set({ workspace: workspace.key }, state.watermark)
          let progress: SweepProgress | undefined = state.sweep ?? undefined
          if (progress === undefined) {
            const window = nextWindow(settings, state, now)
            if (Option.isSome(window)) {
              yield* store.begin(workspace.key, window.value)
              progress = { window: window.value, phase: "contacts", cursor: null }
            }
          }
          if (progress === undefined) {
            yield* Effect.sleep(POLL)
            continue
          }
          const window = progress.window
          const annotations = {
            workspace: workspace.key,
            since: at(window.since),
            until: at(window.until),
            deletions: window.deletions
          }
          yield* Effect.logInfo(state.sweep === null ? "sweep started" : "sweep resumed").pipe(
            Effect.annotateLogs({ ...annotations, phase: progress.phase })
          )
          const tally = emptyTally()
          const started = Date.now()
          const outcome = yield* sweep(
            { api, store, workspace: workspace.key, persist: true, concurrency: settings.concurrency, events },
            progress,
            tally
          ).pipe(Effect.timeout(settings.budget), Effect.either)
          const done = { ...annotations, ...summary(tally), seconds: (Date.now() - started) / 1000 }
          metrics.refused.inc(tally.refused)
          if (outcome._tag === "Right") {
            failures = 0
            yield* store.finish(workspace.key, window.until)
            metrics.sweeps.inc({ workspace: workspace.key, outcome: "done" })
            metrics.watermark.set({ workspace: workspace.key }, window.until)
            yield* Effect.logInfo("sweep done").pipe(Effect.annotateLogs(done))
          } else if (outcome.left._tag === "TimeoutException") {
            metrics.sweeps.inc({ workspace: workspace.key, outcome: "paused" })
            yield* Effect.logWarning("sweep paused: RECONCILE_BUDGET spent; it resumes where it got").pipe(
              Effect.annotateLogs(done)
            )
            yield* Effect.sleep(POLL)
          } else {
            failures += 1
            metrics.sweeps.inc({ workspace: workspace.key, outcome: "failed" })
            const wait = Duration.min(RETRY_MAX, Duration.times(RETRY_FIRST, 2 ** Math.min(failures - 1, 10)))
            yield* Effect.logError("sweep failed; it resumes where it got").pipe(
              Effect.annotateLogs({ ...done, error: outcome.left.message, retry_in: Duration.format(wait) })
            )
            yield* Effect.sleep(wait)
          }
        }
      })

    for (const workspace of settings.workspaces) {
      const api = yield* IntercomApi.make(settings, workspace, (seconds, reason) => {
        metrics.rateLimitWaits.inc({ reason })
        metrics.rateLimitSeconds.inc(seconds)
      })
      // A defect or a store that stops answering ends one round; the loop starts again, logged and counted.
      const supervised = sweeps(workspace, api).pipe(
        Effect.catchAllCause((cause) =>
          Effect.logError("gap recovery stopped; it starts again").pipe(
            Effect.annotateLogs({ workspace: workspace.key, error: causeText(cause) }),
            Effect.tap(() => metrics.sweeps.inc({ workspace: workspace.key, outcome: "failed" }))
          )
        ),
        Effect.repeat(Schedule.spaced(RETRY_FIRST)),
        Effect.zipRight(Effect.never)
      )
      yield* store.exclusive(workspace.key, supervised).pipe(Effect.forkScoped)
    }
    yield* Effect.logInfo("gap recovery on").pipe(
      Effect.annotateLogs({
        workspaces: keys,
        api: settings.apiUrl.origin,
        interval: Option.match(settings.interval, { onNone: () => "off", onSome: Duration.format }),
        gap: Duration.format(settings.gap)
      })
    )
  })
)
