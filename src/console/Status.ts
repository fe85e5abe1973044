import { Effect } from "effect"
import { redactText } from "../config/Redact.js"
import { SinkHealths } from "../pipeline/Delivery/SinkHealth.js"
import { type DeadLetterReason, Outbox } from "../store/Outbox.js"
import { type Traffic, traffic } from "./Traffic.js"

export interface SinkStatus {
  readonly sink: string
  /** `probing`: failing, and its next probe is due or under way. */
  readonly state: "healthy" | "failing" | "probing"
  /** Epoch milliseconds the sink began failing; null while healthy. */
  readonly since: number | null
  /** The failure that began it, redacted. */
  readonly error: string | null
  readonly waiting: number
  /** Epoch milliseconds of the oldest delivery waiting; null when none waits. */
  readonly oldest: number | null
}

export interface DeadLetterGroup {
  /** null: dead letters without a sink (`no_route`, older `schema_mismatch`). */
  readonly sink: string | null
  readonly reason: DeadLetterReason
  readonly count: number
}

export interface Overview {
  readonly now: number
  readonly sinks: ReadonlyArray<SinkStatus>
  readonly deadLetters: {
    readonly total: number
    readonly groups: ReadonlyArray<DeadLetterGroup>
  }
  readonly traffic: Traffic
}

/**
 * What the overview shows, from the sinks' health, the outbox, the dead letters still waiting and the notification
 * log's counts per minute.
 */
export const overview = Effect.gen(function*() {
  const outbox = yield* Outbox
  const healths = yield* SinkHealths
  const now = Date.now()
  const [depth, counts, minutes] = yield* Effect.all([outbox.depthBySink, outbox.deadLetterCounts, traffic(now)])
  const groups = counts.map(({ count, reason, sink }) => ({ sink, reason, count: Number(count) }))
  const names = new Set([...healths.keys(), ...depth.map(({ sink }) => sink)])
  for (const group of groups) if (group.sink !== null) names.add(group.sink)
  const sinks = [...names].sort().map((sink): SinkStatus => {
    const state = healths.get(sink)?.state ?? { _tag: "healthy" as const }
    const waiting = depth.find((entry) => entry.sink === sink)
    return {
      sink,
      state: state._tag === "healthy" ? "healthy" : now >= state.probeAt ? "probing" : "failing",
      since: state._tag === "healthy" ? null : state.since,
      error: state._tag === "healthy" ? null : redactText(state.error),
      waiting: waiting === undefined ? 0 : Number(waiting.count),
      oldest: waiting === undefined ? null : Number(waiting.oldest)
    }
  })
  return {
    now,
    sinks,
    deadLetters: {
      total: groups.reduce((sum, group) => sum + group.count, 0),
      groups: [...groups].sort((a, b) => (a.sink ?? "").localeCompare(b.sink ?? "") || a.reason.localeCompare(b.reason))
    },
    traffic: minutes
  } satisfies Overview
})

/** `3s`, `4m 10s`, `2h 5m`, `3d 4h`: how long ago, as the pages and the script show it. */
export const age = (ms: number): string => {
  const seconds = Math.max(0, Math.floor(ms / 1000))
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ${Math.floor(seconds % 3600 / 60)}m`
  return `${Math.floor(seconds / 86_400)}d ${Math.floor(seconds % 86_400 / 3600)}h`
}
