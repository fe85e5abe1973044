import { Effect } from "effect"
import { type LoggedNotification, NotificationLogStore } from "../store/NotificationLog.js"
import { type Cursor, matches, plan, type Query } from "./Search.js"

export const PAGE_SIZE = 50
/** Notifications read per store call when terms are left for the listing to check. */
const SCAN_BATCH = 500
/** Notifications read at most for one page: past it, the page ends and its Older link goes on from there. */
export const MAX_SCAN = 5000

export interface Listing {
  readonly rows: ReadonlyArray<LoggedNotification>
  /** Where the next page starts; none when there is nothing older. */
  readonly older: Cursor | undefined
  /** True when the page stopped after `MAX_SCAN` notifications, with fewer than a page matching. */
  readonly partial: boolean
}

const cursorOf = (logged: LoggedNotification): Cursor => ({ receivedAt: logged.receivedAt.getTime(), seq: logged.seq })

const page = (rows: ReadonlyArray<LoggedNotification>, older: Cursor | undefined, partial = false): Listing => ({
  rows,
  older,
  partial
})

/** A page of the notifications matching `query`, newest first. */
export const listing = (query: Query) =>
  Effect.gen(function*() {
    const log = yield* NotificationLogStore
    const { rest, search } = plan(query)
    if (rest.length === 0) {
      const read = yield* log.search({ ...search, limit: PAGE_SIZE + 1 })
      const rows = read.slice(0, PAGE_SIZE)
      return page(rows, read.length > PAGE_SIZE ? cursorOf(rows.at(-1)!) : undefined)
    }
    const rows: Array<LoggedNotification> = []
    let after = search.after
    for (let scanned = 0; scanned < MAX_SCAN;) {
      const batch = yield* log.search({ ...search, after, limit: SCAN_BATCH })
      scanned += batch.length
      for (const logged of batch) {
        if (!rest.every((condition) => matches(condition, logged))) continue
        if (rows.length === PAGE_SIZE) return page(rows, cursorOf(rows.at(-1)!))
        rows.push(logged)
      }
      if (batch.length < SCAN_BATCH) return page(rows, undefined)
      after = cursorOf(batch.at(-1)!)
    }
    return page(rows, after, rows.length < PAGE_SIZE)
  })
