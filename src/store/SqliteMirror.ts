import type Database from "better-sqlite3"
import { Either } from "effect"
import type { MirrorChange } from "../mirror/Rows.js"
import { type MirrorOutcome, mirrorTable } from "./Mirror.js"
import { mirrorStatements, mirrorValues } from "./MirrorStatements.js"

/**
 * Versions written before they were bounded (`src/mirror/Times.ts`) froze rows: a far-future `updated_at` made every
 * genuine update stale. Once per store, before anything is written: a version of 1e12 or more is read as
 * milliseconds, and one still before 1970 or more than 24 hours from now is cleared (NULL, the oldest version).
 * The same as PostgreSQL's migration 00006. Once `mirror_repairs` names it, a start costs a scan that changes
 * nothing (about 12 ms per million contacts here).
 */
const BOUND = "min(253402300799, CAST(strftime('%s', 'now') AS INTEGER) + 86400)"
const bounded = (column: string) =>
  `${column} = CASE WHEN ${column} BETWEEN 0 AND (${BOUND}) THEN ${column}
    WHEN ${column} >= 1e12 AND ${column} / 1000 <= (${BOUND}) THEN CAST(${column} / 1000 AS INTEGER) END`
const outOfBounds = (column: string) => `NOT (${column} BETWEEN 0 AND (${BOUND}))`
const NOT_REPAIRED = "NOT EXISTS (SELECT 1 FROM mirror_repairs WHERE name = 'versions_bounded')"
const VERSION_REPAIR = [
  ...["intercom_contacts", "intercom_conversations"].map((table) =>
    `UPDATE ${table} SET ${bounded("updated_at")}, ${bounded("notified_at")}
    WHERE ${NOT_REPAIRED} AND (${outOfBounds("updated_at")} OR ${outOfBounds("notified_at")})`
  ),
  `UPDATE intercom_contact_tags SET ${bounded("tagged_at")} WHERE ${NOT_REPAIRED} AND ${outOfBounds("tagged_at")}`,
  `INSERT OR IGNORE INTO mirror_repairs (name, applied_at) VALUES ('versions_bounded', strftime('%s', 'now'))`
]

/** The mirror's tables in the SQLite store; times are unix seconds, `data` the item as received (JSON text). */
export const MIRROR_MIGRATION = [
  `CREATE TABLE IF NOT EXISTS intercom_contacts (
    id TEXT PRIMARY KEY,
    role TEXT,
    external_id TEXT,
    email TEXT,
    name TEXT,
    created_at INTEGER,
    updated_at INTEGER,
    deleted_at INTEGER,
    data TEXT NOT NULL,
    notified_at INTEGER
  )`,
  `CREATE TABLE IF NOT EXISTS intercom_conversations (
    id TEXT PRIMARY KEY,
    state TEXT,
    open INTEGER,
    admin_assignee_id TEXT,
    team_assignee_id TEXT,
    created_at INTEGER,
    updated_at INTEGER,
    data TEXT NOT NULL,
    notified_at INTEGER
  )`,
  `CREATE TABLE IF NOT EXISTS intercom_contact_tags (
    contact_id TEXT NOT NULL,
    tag_id TEXT NOT NULL,
    tag_name TEXT,
    tagged_at INTEGER,
    PRIMARY KEY (contact_id, tag_id)
  )`,
  "CREATE TABLE IF NOT EXISTS mirror_repairs (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
  ...VERSION_REPAIR
]

/** Errors that say the store cannot keep these values (a constraint, a value too big), not that it is unwell. */
const refusesValues = (error: unknown): boolean => {
  const code = (error as { readonly code?: unknown }).code
  return typeof code === "string" && /^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH|RANGE)/.test(code)
}

const NONE: Either.Either<ReadonlyArray<MirrorOutcome>, string> = Either.right([])

/**
 * Prepares the mirror's statements on `db`. The function it returns applies a notification's changes all or none:
 * inside whatever transaction is open, under a savepoint of their own, so that values the store refuses undo only
 * them (their outcomes, or why they were refused); any other failure is thrown, failing the transaction.
 */
export const prepareMirror = (db: Database.Database) => {
  const statements = mirrorStatements(() => "?")
  const prepared = Object.fromEntries(
    Object.entries(statements).map(([tag, sql]) => [tag, db.prepare(sql)])
  ) as Record<MirrorChange["_tag"], Database.Statement>
  const apply = (change: MirrorChange): MirrorOutcome => ({
    table: mirrorTable(change),
    // SQLite has no boolean: `open` is stored as 1 or 0.
    applied: prepared[change._tag].get(
      ...mirrorValues(change).map((value) => typeof value === "boolean" ? Number(value) : value)
    ) !== undefined
  })
  // Nested in an open transaction, better-sqlite3 makes this a savepoint; alone, a transaction.
  const applyAll = db.transaction((changes: ReadonlyArray<MirrorChange>) => changes.map(apply))
  return (changes: ReadonlyArray<MirrorChange>): Either.Either<ReadonlyArray<MirrorOutcome>, string> => {
    if (changes.length === 0) return NONE
    try {
      return Either.right(applyAll(changes))
    } catch (error) {
      if (!refusesValues(error)) throw error
      return Either.left(`the store refuses the values: ${String((error as Error).message).slice(0, 200)}`)
    }
  }
}
