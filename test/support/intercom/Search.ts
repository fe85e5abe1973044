/**
 * The `search_request` body of `POST /contacts/search` and `POST /conversations/search`: filters and cursors.
 *
 * Date fields differ between the two endpoints, as the pinned description documents them:
 * - contacts match by calendar day in the workspace's time zone: `>` from the start of the next day, `<` before the
 *   start of that day, `=` the whole day; `!=`, `>=`, `<=`, `IN`, `NIN` are an error;
 * - conversations compare the full timestamp and the table calls `>` "Greater (or equal) than" and `<` "Lower (or
 *   equal) than", so both include the bound.
 */

export type DateSemantics = "calendar-day" | "inclusive-seconds"

export interface SearchSettings {
  readonly dates: DateSemantics
  readonly dateFields: ReadonlySet<string>
  /** Seconds east of UTC of the workspace's time zone; calendar days start at its midnight. */
  readonly utcOffsetSeconds: number
  readonly defaultPerPage: number
  readonly maxPerPage: number
}

export class SearchError extends Error {}

type Row = { readonly [field: string]: unknown }

export type Predicate = (row: Row) => boolean

const DAY = 86_400

const startOfDay = (timestamp: number, offset: number) => Math.floor((timestamp + offset) / DAY) * DAY - offset

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const toNumber = (field: string, value: unknown) => {
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value
  if (typeof number !== "number" || !Number.isInteger(number)) {
    throw new SearchError(`${field} needs an integer timestamp, got ${JSON.stringify(value)}`)
  }
  return number
}

const dateFilter = (field: string, operator: string, raw: unknown, settings: SearchSettings): Predicate => {
  const value = toNumber(field, raw)
  const at = (row: Row) => row[field] as number
  if (settings.dates === "inclusive-seconds") {
    switch (operator) {
      case ">":
        return (row) => at(row) >= value
      case "<":
        return (row) => at(row) <= value
      case "=":
        return (row) => at(row) === value
      default:
        throw new SearchError(`operator ${operator} is not supported on ${field}`)
    }
  }
  const day = startOfDay(value, settings.utcOffsetSeconds)
  switch (operator) {
    case ">":
      return (row) => at(row) >= day + DAY
    case "<":
      return (row) => at(row) < day
    case "=":
      return (row) => startOfDay(at(row), settings.utcOffsetSeconds) === day
    default:
      throw new SearchError(`operator ${operator} is not supported on Date fields (${field})`)
  }
}

const valueFilter = (field: string, operator: string, value: unknown): Predicate => {
  const list = Array.isArray(value) ? value : [value]
  switch (operator) {
    case "=":
      return (row) => row[field] === value
    case "!=":
      return (row) => row[field] !== value
    case "IN":
      return (row) => list.includes(row[field])
    case "NIN":
      return (row) => !list.includes(row[field])
    default:
      throw new SearchError(`the fake does not implement operator ${operator} on ${field}`)
  }
}

const MAX_FILTERS = 15

export const parseQuery = (query: unknown, settings: SearchSettings, depth = 0): Predicate => {
  if (!isRecord(query)) throw new SearchError("query must be an object")
  const { field, operator, value } = query
  if (operator === "AND" || operator === "OR") {
    if (depth >= 2) throw new SearchError("max 2 nested filters")
    if (!Array.isArray(value) || value.length > MAX_FILTERS) {
      throw new SearchError(`${operator} needs an array of at most ${MAX_FILTERS} filters`)
    }
    const parts = value.map((part) => parseQuery(part, settings, depth + 1))
    return operator === "AND"
      ? (row) => parts.every((part) => part(row))
      : (row) => parts.some((part) => part(row))
  }
  if (typeof field !== "string" || typeof operator !== "string") {
    throw new SearchError("a filter needs a field and an operator")
  }
  return settings.dateFields.has(field)
    ? dateFilter(field, operator, value, settings)
    : valueFilter(field, operator, value)
}

/** An opaque cursor, like Intercom's: the sort key of the last row returned and the number of the next page. */
export interface Cursor {
  readonly createdAt: number
  readonly id: string
  readonly page: number
}

export const encodeCursor = (cursor: Cursor) =>
  Buffer.from(JSON.stringify([cursor.createdAt * 1000, cursor.id, cursor.page])).toString("base64")

export const decodeCursor = (text: string): Cursor => {
  try {
    const [ms, id, page] = JSON.parse(Buffer.from(text, "base64").toString("utf8")) as [unknown, unknown, unknown]
    if (typeof ms === "number" && typeof id === "string" && typeof page === "number") {
      return { createdAt: ms / 1000, id, page }
    }
  } catch {
    // answered below
  }
  throw new SearchError("starting_after is not a cursor this API returned")
}

export interface Paging {
  readonly perPage: number
  readonly after: Cursor | undefined
}

export const parsePaging = (pagination: unknown, settings: SearchSettings): Paging => {
  if (pagination === undefined || pagination === null) return { perPage: settings.defaultPerPage, after: undefined }
  if (!isRecord(pagination)) throw new SearchError("pagination must be an object")
  const { per_page, starting_after } = pagination
  const perPage = per_page === undefined || per_page === null ? settings.defaultPerPage : per_page
  if (typeof perPage !== "number" || !Number.isInteger(perPage) || perPage < 1 || perPage > settings.maxPerPage) {
    throw new SearchError(`per_page must be an integer from 1 to ${settings.maxPerPage}`)
  }
  const after = typeof starting_after === "string" && starting_after !== "" ? decodeCursor(starting_after) : undefined
  return { perPage, after }
}

export interface SortKey {
  readonly createdAt: number
  readonly id: string
}

const compare = (a: SortKey, b: SortKey) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly pages: {
    readonly type: "pages"
    readonly page: number
    readonly per_page: number
    readonly total_pages: number
    readonly next?: { readonly page: number; readonly starting_after: string }
  }
  readonly totalCount: number
}

/** Keyset pagination over rows sorted by (created_at, id), evaluated afresh on every request. */
export const paginate = <A extends SortKey>(matching: ReadonlyArray<A>, paging: Paging): Page<A> => {
  const sorted = [...matching].sort(compare)
  const after = paging.after
  const rest = after === undefined ? sorted : sorted.filter((row) => compare(row, after) > 0)
  const items = rest.slice(0, paging.perPage)
  const page = after?.page ?? 1
  const last = items.at(-1)
  const next = rest.length > items.length && last !== undefined
    ? { page: page + 1, starting_after: encodeCursor({ createdAt: last.createdAt, id: last.id, page: page + 1 }) }
    : undefined
  return {
    items,
    totalCount: sorted.length,
    pages: {
      type: "pages",
      page,
      per_page: paging.perPage,
      total_pages: Math.ceil(sorted.length / paging.perPage),
      ...(next === undefined ? {} : { next })
    }
  }
}
