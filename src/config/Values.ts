import { Config, ConfigError, Duration, Either, Option } from "effect"

/** A refused value: the message starts with the setting's name, as `Configuration error: NAME ...` shows it. */
export const invalid = (name: string, message: string) => ConfigError.InvalidData([name], `${name} ${message}`)

export const integer = (name: string, fallback: number, min: number, max: number) =>
  Config.string(name).pipe(
    Config.withDefault(String(fallback)),
    Config.mapOrFail((text) => {
      const value = Number(text.trim())
      return /^\d+$/.test(text.trim()) && value >= min && value <= max
        ? Either.right(value)
        : Either.left(invalid(name, `must be a whole number from ${min} to ${max}, got "${text}"`))
    })
  )

/** A whole number from `min` to `max`, or none when unset or empty. */
export const optionalInteger = (name: string, min: number, max: number) =>
  Config.option(Config.string(name)).pipe(
    Config.mapOrFail((value) => {
      if (Option.isNone(value) || value.value.trim() === "") return Either.right(Option.none<number>())
      const text = value.value.trim()
      const parsed = Number(text)
      return /^\d+$/.test(text) && parsed >= min && parsed <= max
        ? Either.right(Option.some(parsed))
        : Either.left(invalid(name, `must be a whole number from ${min} to ${max}, or unset, got "${value.value}"`))
    })
  )

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `500ms`, `10s`, `5m`, `24h`, `7d`; undefined for anything else. */
export const parseDuration = (text: string): Duration.Duration | undefined => {
  const match = /^(\d+)\s*(ms|s|m|h|d)$/.exec(text.trim())
  return match === null ? undefined : Duration.millis(Number(match[1]) * UNITS[match[2]!]!)
}

/**
 * A duration from `min` to `max` (both written as durations). Every duration setting has a floor above 0, which would
 * switch its protection off or make no sense, and a ceiling; a timer's is below the longest a timer waits (24.8 days).
 */
export const duration = (name: string, fallback: string, min: string, max: string) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) => {
      const value = parseDuration(text)
      if (value === undefined) {
        return Either.left(invalid(name, `must be a duration such as 500ms, 10s, 5m, 24h or 7d, got "${text}"`))
      }
      return Duration.between(value, { minimum: parseDuration(min)!, maximum: parseDuration(max)! })
        ? Either.right(value)
        : Either.left(invalid(name, `must be from ${min} to ${max}, got "${text}"`))
    })
  )

export const oneOf = <A extends string>(name: string, allowed: ReadonlyArray<A>, fallback: A) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) =>
      allowed.includes(text.trim() as A)
        ? Either.right(text.trim() as A)
        : Either.left(invalid(name, `must be one of ${allowed.join(", ")}, got "${text}"`))
    )
  )
