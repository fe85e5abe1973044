import { Cause, Duration, Effect, Option, type Scope } from "effect"
import type { Sink } from "../../sinks/Sink.js"
import type { DeliveryShare } from "../../store/DeliveryShare.js"
import type { OutboxEntry, StoreUnavailable } from "../../store/Outbox.js"
import * as Attempt from "./Attempt.js"
import * as Progress from "./Progress.js"
import type { SinkHealth } from "./SinkHealth.js"

/** Longest sleep between looks at the outbox: other processes (`npm run replay`) add rows without waking us. */
const POLL = Duration.seconds(5)
/** Deliveries handed out per look, per slot, and at least: a key's run takes several of them. */
const FETCH_PER_SLOT = 8
const MIN_FETCH = 256
/** Deliveries looked at to choose a probe. */
const PROBE_CANDIDATES = 32
/** Deliveries in flight per sink when neither `DELIVERY_CONCURRENCY` nor the sink says otherwise. */
const DEFAULT_IN_FLIGHT = 32
/** The key every delivery shares when `DELIVERY_ORDER=receive`. */
const ONE_QUEUE = "*"

/** Entries grouped by key, each group in receive order, groups ordered by their oldest entry. */
const byKey = (entries: ReadonlyArray<OutboxEntry>, keyOf: (entry: OutboxEntry) => string) => {
  const groups = new Map<string, Array<OutboxEntry>>()
  for (const entry of entries) {
    const key = keyOf(entry)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [entry])
    else group.push(entry)
  }
  return groups
}

/**
 * The deliveries of one sink: runs of one key each, up to `DELIVERY_CONCURRENCY` side by side, each run delivering its
 * key's entries one after the other. A key is handed out again only once its run ended and what it delivered is
 * recorded, so a key's notifications arrive in receive order. While the sink's target is unavailable nothing is
 * handed out but one probe at a time (see `SinkHealth`).
 */
export const run = (sink: Sink, health: SinkHealth, share: DeliveryShare, context: Attempt.AttemptContext) =>
  Effect.gen(function*() {
    const { config, outbox } = context
    const attempt = Attempt.make(sink, health, context)
    const order = config.deliveryOrder
    const concurrency = order === "receive"
      ? 1
      : Option.getOrElse(config.deliveryConcurrency, () => sink.inFlight ?? DEFAULT_IN_FLIGHT)
    const keyOf = order === "receive" ? () => ONE_QUEUE : (entry: OutboxEntry) => entry.key
    const fetchLimit = Math.max(MIN_FETCH, concurrency * FETCH_PER_SLOT)

    /** Something changed: a run ended, a key was released, deliveries were queued. */
    const changed = yield* Effect.makeLatch(false)
    /** Keys handed out and not yet released, with their bucket. */
    const busy = new Map<string, number>()
    const hold = (key: string, bucket: number) => {
      busy.set(key, bucket)
      share.enter(bucket)
    }
    const free = (key: string) => {
      const bucket = busy.get(key)
      if (bucket === undefined) return
      busy.delete(key)
      share.leave(bucket)
    }
    // The share outlives this worker (a worker that stops is started again on it): what it holds is given back.
    yield* Effect.addFinalizer(() => Effect.sync(() => [...busy.keys()].forEach(free)))
    /** Runs fetched and not started yet, oldest first. */
    let ready: Array<[string, Array<OutboxEntry>]> = []
    let running = 0

    const progress = yield* Progress.make(outbox, sink.name, (keys) => {
      for (const key of keys) free(key)
      changed.unsafeOpen()
    })
    yield* outbox.waitQueued(sink.name).pipe(Effect.zipRight(changed.open), Effect.forever, Effect.forkScoped)
    share.onTake(() => changed.unsafeOpen())

    const deliverRun = (entries: ReadonlyArray<OutboxEntry>) =>
      Effect.gen(function*() {
        for (const [index, entry] of entries.entries()) {
          // A run that began before the target failed stops; a probe (a run of one) goes ahead.
          if (index > 0 && health.failing) return
          const outcome = yield* attempt(entry)
          if (outcome === "delivered") progress.delivered(entry.seq)
          if (outcome === "held") return
        }
      })

    const start = (key: string, entries: ReadonlyArray<OutboxEntry>) => {
      running++
      return deliverRun(entries).pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("a run of deliveries stopped").pipe(
            Effect.annotateLogs({ sink: sink.name, key, error: Cause.pretty(cause) })
          )
        ),
        Effect.ensuring(Effect.sync(() => {
          running--
          progress.finished(key)
        })),
        Effect.forkScoped
      )
    }

    const fetch = (limit: number) =>
      Effect.suspend(() =>
        share.any
          ? outbox.due(sink.name, { now: Date.now(), limit, order, busy: [...busy.keys()], buckets: share.buckets })
          : Effect.succeed([])
      ).pipe(
        Effect.map((entries) => {
          const groups = [...byKey(entries, keyOf)]
          for (const [key, group] of groups) hold(key, group[0]!.bucket)
          return groups
        })
      )

    /** Gives back runs fetched but not started that may not start now: they are fetched again later. */
    const giveBack = (keep: (bucket: number) => boolean) => {
      const kept = ready.filter(([, entries]) => keep(entries[0]!.bucket))
      for (const [key, entries] of ready) if (!keep(entries[0]!.bucket)) free(key)
      ready = kept
    }

    /** One look: starts what it can and returns how long to wait for a change before looking again (none: at once). */
    const look: Effect.Effect<Option.Option<Duration.Duration>, StoreUnavailable, Scope.Scope> = Effect.gen(
      function*() {
        // Runs of a bucket this process is giving up do not start: the bucket goes once its runs in flight end.
        giveBack((bucket) => !health.failing && share.allows(bucket))
        // In receive order the queue is read again only once the last run's deliveries are recorded: it cannot skip
        // them as the query by key does.
        const mayFetch = order === "key" || busy.size === 0
        if (health.failing) {
          const state = health.state
          const probeIn = state._tag === "failing" ? state.probeAt - Date.now() : 0
          // Runs in flight end (and wake this) before a probe starts; else the probe is due in `probeIn`.
          if (running > 0 || !mayFetch) return Option.some(POLL)
          if (probeIn > 0) return Option.some(Duration.millis(probeIn))
          // The probe is the oldest delivery of a key that has not failed since the sink did, if there is one.
          const candidates = yield* fetch(PROBE_CANDIDATES)
          const probe = candidates.find(([key]) => !health.suspects.has(key)) ?? candidates[0]
          for (const [key] of candidates) if (key !== probe?.[0]) free(key)
          if (probe === undefined) return Option.some(POLL)
          yield* start(probe[0], probe[1].slice(0, 1))
          return Option.some(POLL)
        }
        let full = false
        if (ready.length === 0 && running < concurrency && mayFetch) {
          ready = yield* fetch(fetchLimit)
          // One key filling a whole fetch says nothing of other keys; looking again would read the queue through.
          full = ready.length > 1 && ready.reduce((sum, [, entries]) => sum + entries.length, 0) === fetchLimit
        }
        while (running < concurrency && ready.length > 0) {
          const [key, entries] = ready.shift()!
          yield* start(key, entries)
        }
        // A full fetch may have left out keys queued later: with slots still free, look again at once.
        if (full && running < concurrency) return Option.none()
        if (ready.length > 0 || running > 0 || busy.size > 0) return Option.some(POLL)
        const next = yield* outbox.nextDue(sink.name, Date.now())
        return Option.some(Option.match(next, {
          onNone: () => POLL,
          onSome: (at) => Duration.min(POLL, Duration.millis(Math.max(0, at - Date.now())))
        }))
      }
    )

    const loop = Effect.gen(function*() {
      while (true) {
        yield* changed.close
        const wait = yield* look.pipe(
          Effect.catchAll((error) =>
            Effect.logError("outbox unavailable; pausing delivery").pipe(
              Effect.annotateLogs({ sink: sink.name, error: error.message }),
              Effect.as(Option.some(Duration.seconds(1)))
            )
          )
        )
        if (Option.isSome(wait)) yield* changed.await.pipe(Effect.timeout(wait.value), Effect.ignore)
      }
    })

    return yield* Effect.raceFirst(loop, progress.writer)
  })
