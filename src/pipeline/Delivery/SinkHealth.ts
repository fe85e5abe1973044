import { Context, Duration, Layer, Option } from "effect"
import type { SinkError } from "../../sinks/Sink.js"

/** How soon a sink that just failed is probed; each failed probe doubles the wait, up to `PROBE_INTERVAL`. */
const FIRST_PROBE_MS = 250
/** Deliveries whose last failure is remembered (see `ownFailure`); the oldest are forgotten first. */
const REMEMBERED_FAILURES = 10_000

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
  /**
   * Keys whose deliveries failed as unavailable since the sink became `failing`: a probe tries another key first, so
   * that a notification the target refuses every time cannot pass for the target being down.
   */
  readonly suspects = new Set<string>()
  /** `successes` at the first failure of a delivery that failed as unavailable, by seq. */
  private readonly failures = new Map<number, number>()
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

  /**
   * Whether delivery `seq`, sent when `sentWith` deliveries had succeeded, failing as unavailable is its own failure
   * rather than the target's: the target took another delivery since it was sent, or since this delivery first failed
   * (then every later failure of it is its own too, until it succeeds: a target that refuses one notification and takes
   * the others cannot pass for a target that is down, even once nothing else is left to deliver).
   */
  ownFailure(seq: number, sentWith: number): boolean {
    const first = this.failures.get(seq)
    if (this.successes > sentWith || (first !== undefined && this.successes > first)) return true
    if (first === undefined) {
      this.failures.set(seq, this.successes)
      if (this.failures.size > REMEMBERED_FAILURES) this.failures.delete(this.failures.keys().next().value!)
    }
    return false
  }

  /** Records a success of delivery `seq`; returns how long the sink had been failing when this success ended it. */
  succeeded(seq: number, now: number): Option.Option<Duration.Duration> {
    this.successes++
    this.failures.delete(seq)
    this.suspects.clear()
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
  unavailable(error: SinkError, key: string, sentAt: number, now: number): Duration.Duration {
    this.suspects.add(key)
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
