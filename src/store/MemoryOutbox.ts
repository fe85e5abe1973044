import { Duration, Effect, Layer, Option } from "effect"
import { MirrorCounts } from "./Mirror.js"
import { Outbox, StoreUnavailable } from "./Outbox.js"

const nothing = new StoreUnavailable({
  message:
    "the memory store keeps no deliveries: choose a durable store (SQLite or PostgreSQL) for sinks after the answer"
})

/** The most ids remembered at once (about 10 MB): at Intercom's peak rate, the last 40 seconds' worth. */
export const MAX_REMEMBERED_IDS = 100_000

/**
 * A store of dedupe ids only, in this process's memory: for an app whose hooks run before the answer, so that nothing
 * waits to be delivered. Ids are forgotten after `dedupeWindow`, when more than `MAX_REMEMBERED_IDS` are held (the
 * oldest first), and when the process ends; every call that would queue a delivery or keep a dead letter fails.
 */
export const layer = (dedupeWindow: Duration.Duration) =>
  Layer.sync(Outbox, () => {
    const windowMs = Duration.toMillis(dedupeWindow)
    /** Id -> when it was accepted; kept in accept order, so the expired ones are the first. */
    const accepted = new Map<string, number>()
    const forgetExpired = (now: number) => {
      for (const [id, at] of accepted) {
        if (now - at < windowMs) return
        accepted.delete(id)
      }
    }
    const isSeen = (id: string, now: number) => {
      const at = accepted.get(id)
      return at !== undefined && now - at < windowMs
    }
    const mirrorCounts = new MirrorCounts()
    return Outbox.of({
      seen: (id) => Effect.sync(() => isSeen(id, Date.now())),
      accept: (notification, sinks, changes = []) =>
        Effect.suspend(() => {
          if (sinks.length > 0 || changes.length > 0) return Effect.fail(nothing)
          const now = Date.now()
          forgetExpired(now)
          const id = notification.id
          if (id === null) return Effect.succeed("accepted" as const)
          if (isSeen(id, now)) return Effect.succeed("duplicate" as const)
          accepted.set(id, now)
          if (accepted.size > MAX_REMEMBERED_IDS) accepted.delete(accepted.keys().next().value!)
          return Effect.succeed("accepted" as const)
        }),
      applyMirror: () => Effect.fail(nothing),
      mirrorCounts,
      due: () => Effect.succeed([]),
      nextDue: () => Effect.succeed(Option.none()),
      delivered: () => Effect.void,
      retryLater: () => Effect.fail(nothing),
      bury: () => Effect.fail(nothing),
      addDeadLetter: () => Effect.fail(nothing),
      replay: () => Effect.succeed(0),
      deadLetters: () => Effect.succeed([]),
      deadLetterCounts: Effect.succeed([]),
      discard: () => Effect.succeed(0),
      depth: Effect.succeed({ count: 0, oldest: Option.none() }),
      depthBySink: Effect.succeed([]),
      probe: Effect.void,
      waitQueued: () => Effect.never,
      deliveries: () => Effect.never
    })
  })
