import type Database from "better-sqlite3"
import type { MirrorChange } from "../mirror/Rows.js"
import { type MirrorOutcome, mirrorTable } from "./Mirror.js"
import { mirrorStatements, mirrorValues } from "./MirrorStatements.js"

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
  )`
]

/** Prepares the mirror's statements on `db`; applies one change inside whatever transaction is open. */
export const prepareMirror = (db: Database.Database) => {
  const statements = mirrorStatements(() => "?")
  const prepared = Object.fromEntries(
    Object.entries(statements).map(([tag, sql]) => [tag, db.prepare(sql)])
  ) as Record<MirrorChange["_tag"], Database.Statement>
  return (change: MirrorChange): MirrorOutcome => ({
    table: mirrorTable(change),
    // SQLite has no boolean: `open` is stored as 1 or 0.
    applied: prepared[change._tag].get(
      ...mirrorValues(change).map((value) => typeof value === "boolean" ? Number(value) : value)
    ) !== undefined
  })
}
