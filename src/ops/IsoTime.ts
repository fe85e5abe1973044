import { Option } from "effect"

const ISO = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/

/** A date (midnight UTC) or a time with its offset, as ISO 8601 writes them; a day that does not exist is refused. */
export const isoTime = (text: string): Option.Option<Date> => {
  const match = ISO.exec(text)
  const time = new Date(text)
  if (match === null || Number.isNaN(time.getTime())) return Option.none()
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day ? Option.some(time) : Option.none()
}
