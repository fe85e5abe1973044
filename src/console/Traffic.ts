import { Effect } from "effect"
import {
  type MinuteCount,
  NotificationLogStore,
  type TrafficOutcome,
  trafficOutcomes
} from "../store/NotificationLog.js"
import { type Chart, chartOf, MINUTE, MINUTES } from "./Chart.js"

export interface OutcomeTotal {
  readonly outcome: TrafficOutcome
  /** Requests of the current minute. */
  readonly lastMinute: number
  /** Requests of the 60 minutes shown (the current one included). */
  readonly lastHour: number
}

/** The webhook's requests per minute by outcome, for the overview. */
export interface Traffic {
  /** Epoch milliseconds of the first of the 60 minutes; the last is the current one. */
  readonly from: number
  readonly minutes: ReadonlyArray<MinuteCount>
  readonly totals: ReadonlyArray<OutcomeTotal>
  readonly chart: Chart
}

export const trafficOf = (counts: ReadonlyArray<MinuteCount>, from: number): Traffic => {
  const current = from + (MINUTES - 1) * MINUTE
  const shown = counts.filter(({ minute }) => minute >= from && minute <= current)
    .map(({ count, minute, outcome }) => ({ minute: Number(minute), outcome, count: Number(count) }))
  const sum = (outcome: TrafficOutcome, last: boolean) =>
    shown.reduce(
      (total, count) => count.outcome === outcome && (!last || count.minute === current) ? total + count.count : total,
      0
    )
  return {
    from,
    minutes: shown,
    totals: trafficOutcomes.map((outcome) => ({
      outcome,
      lastMinute: sum(outcome, true),
      lastHour: sum(outcome, false)
    })),
    chart: chartOf(shown, from)
  }
}

/** The last 60 minutes' counts, up to the one `now` falls in. */
export const traffic = (now: number) =>
  Effect.gen(function*() {
    const from = Math.floor(now / MINUTE) * MINUTE - (MINUTES - 1) * MINUTE
    return trafficOf(yield* (yield* NotificationLogStore).minutes(from), from)
  })
