/** The last second the mirror keeps, 9999-12-31T23:59:59Z; the first is 1970-01-01T00:00:00Z (0). */
export const LATEST = 253_402_300_799

/** A number from this on is milliseconds: as seconds it would be after the year 9999 (as milliseconds, 2001). */
export const MILLISECONDS_FROM = 1e12

/** How far after the notification was received a version may be and still count (clocks disagree), in seconds. */
export const VERSION_SKEW = 24 * 60 * 60

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/

const offsetSeconds = (zone: string): number | null => {
  if (zone === "Z") return 0
  const hours = Number(zone.slice(1, 3))
  const minutes = Number(zone.slice(-2))
  if (hours > 23 || minutes > 59) return null
  return (zone.startsWith("-") ? -1 : 1) * (hours * 3600 + minutes * 60)
}

/**
 * An ISO-8601 date or date-time (`2026-01-10T04:22:28.240+00:00`; UTC without an offset) as unix seconds, or null.
 * Parsed by hand: `Date.parse` takes `2026-02-30` for 2 March, `1` for 2001 and a time without offset as local time.
 */
const fromIso = (text: string): number | null => {
  const match = ISO_8601.exec(text)
  if (match === null) return null
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map((part) => Number(part ?? 0))
  const offset = offsetSeconds(match[7] ?? "Z")
  if (offset === null || year! < 1970 || month! < 1 || month! > 12 || hour! > 23 || minute! > 59 || second! > 59) {
    return null
  }
  const at = Date.UTC(year!, month! - 1, day!, hour!, minute!, second!)
  // Date.UTC carries an impossible day over into the next month.
  if (day! < 1 || new Date(at).getUTCDate() !== day) return null
  return at / 1000 - offset
}

/**
 * Unix seconds from what Intercom sends for a time: a number of seconds (a fraction rounded down), a number of
 * milliseconds (from `MILLISECONDS_FROM` on), or an ISO-8601 string. Anything else, or a time outside
 * 1970-01-01T00:00:00Z..9999-12-31T23:59:59Z, is absent (null): every value returned fits every store's integer.
 */
export const unixSeconds = (value: unknown): number | null => {
  const seconds = typeof value === "number"
    ? value >= MILLISECONDS_FROM ? value / 1000 : value
    : typeof value === "string"
    ? fromIso(value)
    : null
  if (seconds === null || !Number.isFinite(seconds)) return null
  // `+ 0` turns -0 into 0.
  const whole = Math.floor(seconds) + 0
  return whole >= 0 && whole <= LATEST ? whole : null
}

/**
 * A time that orders a row's states, as `unixSeconds`, and absent when it is more than `VERSION_SKEW` after
 * `received` (the unix second the notification was received): one far-future value would otherwise make every later
 * genuine update look older.
 */
export const versionSeconds = (value: unknown, received: number): number | null => {
  const seconds = unixSeconds(value)
  return seconds !== null && seconds <= received + VERSION_SKEW ? seconds : null
}
