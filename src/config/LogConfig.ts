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

/** The retention when none is set: the log is for the console, so it is on where the console is. */
export const DEFAULT_RETENTION = "7d"

const retention = Config.all([
  Config.option(Config.string("NOTIFICATION_LOG_RETENTION")),
  Config.option(Config.string("CONSOLE_TOKEN"))
]).pipe(
  Config.mapOrFail(([set, consoleToken]) => {
    const text = Option.getOrElse(
      Option.filter(set, (value) => value.trim() !== ""),
      () => Option.isSome(consoleToken) && consoleToken.value.trim() !== "" ? DEFAULT_RETENTION : "off"
    )
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
