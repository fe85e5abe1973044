import { Context, Duration, Layer, Option } from "effect"
import type { SinkError } from "../../sinks/Sink.js"

/** How soon a sink that just failed is probed; each failed probe doubles the wait, up to `PROBE_INTERVAL`. */
const FIRST_PROBE_MS = 250

export type SinkState =
  | { readonly _tag: "healthy" }
  | {
    readonly _tag: "failing"
    /** Epoch milliseconds of the failure that began it. */
    readonly since: number
    readonly error: string
    /** Epoch milliseconds at which the next probe may start. */
    readonly probeAt: number
  }

export interface ProbePolicy {
  readonly interval: Duration.Duration
  readonly retryAfterMax: Duration.Duration
}

/**
 * Whether a sink's target takes notifications, apart from any notification's fate. A failure that says the target is
 * unwell makes it `failing`: delivery stops, and one delivery at a time probes it, soon at first and then every
 * `PROBE_INTERVAL` at most (longer only when the target asked for it with `Retry-After`, up to `RETRY_AFTER_MAX`). The
 * first delivery that succeeds makes it `healthy`, and delivery goes on at full speed.
 */
export class SinkHealth {
  /** Deliveries that succeeded since start: a failure with successes after it began was not the target being down. */
  successes = 0
  private current: SinkState = { _tag: "healthy" }
  private readonly first: number
  private wait: number

  constructor(readonly sink: string, private readonly policy: ProbePolicy) {
    this.first = Math.min(FIRST_PROBE_MS, Duration.toMillis(policy.interval))
    this.wait = this.first
  }

  get state(): SinkState {
    return this.current
  }

  get failing(): boolean {
    return this.current._tag === "failing"
  }

  /** Records a success; returns how long the sink had been failing when this success ended it. */
  succeeded(now: number): Option.Option<Duration.Duration> {
    this.successes++
    if (this.current._tag === "healthy") return Option.none()
    const since = this.current.since
    this.current = { _tag: "healthy" }
    this.wait = this.first
    return Option.some(Duration.millis(now - since))
  }

  /**
   * Records that the target was unavailable to a delivery sent at `sentAt`; returns the wait before the next probe.
   * Only the failure that makes the sink `failing`, and a failed probe (sent since), move the probes further apart:
   * deliveries that were in flight when the target went down fail one after the other and say nothing new.
   */
  unavailable(error: SinkError, sentAt: number, now: number): Duration.Duration {
    const asked = Option.match(error.retryAfter, {
      onNone: () => 0,
      onSome: (delay) => Math.min(Duration.toMillis(delay), Duration.toMillis(this.policy.retryAfterMax))
    })
    const state = this.current
    if (state._tag === "failing" && sentAt < state.since) {
      const probeAt = Math.max(state.probeAt, now + asked)
      this.current = { ...state, probeAt }
      return Duration.millis(probeAt - now)
    }
    const wait = Math.max(this.wait, asked)
    this.wait = Math.min(this.wait * 2, Duration.toMillis(this.policy.interval))
    const since = state._tag === "failing" ? state.since : now
    this.current = { _tag: "failing", since, error: error.message, probeAt: now + wait }
    return Duration.millis(wait)
  }
}

/** The health of every sink delivered from the outbox, by name, for the workers, `/metrics` and the logs. */
export class SinkHealths extends Context.Tag("SinkHealths")<SinkHealths, Map<string, SinkHealth>>() {
  static readonly layer = Layer.sync(SinkHealths, () => new Map())
}
