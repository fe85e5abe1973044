import { Config, Duration, Either, Option } from "effect"
import { integer, invalid, parseDuration } from "./Values.js"

/** The notification log's settings: what the console's notification pages and per-minute chart read. */
export interface LogSettings {
  /** How long notifications and per-minute counts are kept; none: the log is off. */
  readonly retention: Option.Option<Duration.Duration>
  /** The most notifications kept, whatever their age. */
  readonly maxRows: number
}

const MIN_RETENTION = Duration.hours(1)
const MAX_RETENTION = Duration.days(365)

const retention = Config.string("NOTIFICATION_LOG_RETENTION").pipe(
  Config.withDefault("7d"),
  Config.mapOrFail((text) => {
    if (text.trim() === "off") return Either.right(Option.none<Duration.Duration>())
    const value = parseDuration(text)
    return value !== undefined && Duration.between(value, { minimum: MIN_RETENTION, maximum: MAX_RETENTION })
      ? Either.right(Option.some(value))
      : Either.left(invalid("NOTIFICATION_LOG_RETENTION", `must be off or a duration from 1h to 365d, got "${text}"`))
  })
)

export const logSettings: Config.Config<LogSettings> = Config.all({
  retention,
  maxRows: integer("NOTIFICATION_LOG_MAX_ROWS", 1_000_000, 1000, 100_000_000)
})
