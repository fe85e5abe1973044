import { Duration, Option } from "effect"

export interface BackoffPolicy {
  readonly base: Duration.Duration
  readonly max: Duration.Duration
}

/**
 * Full jitter: a random delay between 0 and min(max, base * 2^(attempt - 1)), never shorter than what the target
 * asked for in `Retry-After`.
 */
export const retryDelay = (
  policy: BackoffPolicy,
  attempt: number,
  retryAfter: Option.Option<Duration.Duration>,
  random: () => number = Math.random
): Duration.Duration => {
  const ceiling = Math.min(
    Duration.toMillis(policy.max),
    Duration.toMillis(policy.base) * 2 ** Math.max(0, attempt - 1)
  )
  const jittered = Duration.millis(Math.floor(random() * ceiling))
  return Option.match(retryAfter, {
    onNone: () => jittered,
    onSome: (asked) => Duration.max(asked, jittered)
  })
}

/** `Retry-After` as delta-seconds or an HTTP date, relative to `now`. */
export const parseRetryAfter = (
  value: string | undefined,
  now: number = Date.now()
): Option.Option<Duration.Duration> => {
  if (value === undefined) return Option.none()
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Option.some(Duration.seconds(Number(trimmed)))
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? Option.none() : Option.some(Duration.millis(Math.max(0, at - now)))
}
