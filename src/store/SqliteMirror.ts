import type Database from "better-sqlite3"
import type { MirrorChange } from "../mirror/Rows.js"
import { type MirrorOutcome, mirrorTable } from "./Mirror.js"

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

/** A row is replaced only by a state at least as new: (updated_at, notified_at), a missing time counting as oldest. */
const NEWER = (table: string) =>
  `(COALESCE(excluded.updated_at, -1), COALESCE(excluded.notified_at, -1)) >= ` +
  `(COALESCE(${table}.updated_at, -1), COALESCE(${table}.notified_at, -1))`

/**
 * Prepares the mirror's statements on `db` and returns the function that applies one change, inside whatever
 * transaction is open. `deleted_at` is never cleared, so a `created` that arrives after the deletion leaves the contact
 * deleted; a deletion of a contact never seen makes its row from the deleted item.
 */
export const prepareMirror = (db: Database.Database) => {
  const upsertContact = db.prepare(
    `INSERT INTO intercom_contacts
      (id, role, external_id, email, name, created_at, updated_at, data, notified_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET role = excluded.role, external_id = excluded.external_id, email = excluded.email,
      name = excluded.name, created_at = excluded.created_at, updated_at = excluded.updated_at, data = excluded.data,
      notified_at = excluded.notified_at
    WHERE ${NEWER("intercom_contacts")}`
  )
  const deleteContact = db.prepare(
    `INSERT INTO intercom_contacts
      (id, role, external_id, email, name, created_at, updated_at, deleted_at, data, notified_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET deleted_at = COALESCE(intercom_contacts.deleted_at, excluded.deleted_at)
    WHERE intercom_contacts.deleted_at IS NULL`
  )
  const upsertConversation = db.prepare(
    `INSERT INTO intercom_conversations
      (id, state, open, admin_assignee_id, team_assignee_id, created_at, updated_at, data, notified_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET state = excluded.state, open = excluded.open,
      admin_assignee_id = excluded.admin_assignee_id, team_assignee_id = excluded.team_assignee_id,
      created_at = excluded.created_at, updated_at = excluded.updated_at, data = excluded.data,
      notified_at = excluded.notified_at
    WHERE ${NEWER("intercom_conversations")}`
  )
  const linkTag = db.prepare(
    `INSERT INTO intercom_contact_tags (contact_id, tag_id, tag_name, tagged_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (contact_id, tag_id) DO UPDATE SET tag_name = excluded.tag_name, tagged_at = excluded.tagged_at
    WHERE COALESCE(excluded.tagged_at, -1) >= COALESCE(intercom_contact_tags.tagged_at, -1)`
  )

  const run = (change: MirrorChange): number => {
    switch (change._tag) {
      case "UpsertContact": {
        const row = change.row
        return upsertContact.run(
          row.id,
          row.role,
          row.externalId,
          row.email,
          row.name,
          row.createdAt,
          row.updatedAt,
          row.data,
          row.notifiedAt
        ).changes
      }
      case "DeleteContact": {
        const row = change.row
        return deleteContact.run(
          row.id,
          row.role,
          row.externalId,
          row.email,
          row.name,
          row.createdAt,
          row.updatedAt,
          change.deletedAt,
          row.data,
          row.notifiedAt
        ).changes
      }
      case "UpsertConversation": {
        const row = change.row
        return upsertConversation.run(
          row.id,
          row.state,
          row.open === null ? null : row.open ? 1 : 0,
          row.adminAssigneeId,
          row.teamAssigneeId,
          row.createdAt,
          row.updatedAt,
          row.data,
          row.notifiedAt
        ).changes
      }
      case "LinkTag": {
        const link = change.link
        return linkTag.run(link.contactId, link.tagId, link.tagName, link.taggedAt).changes
      }
    }
  }

  return (change: MirrorChange): MirrorOutcome => ({ table: mirrorTable(change), applied: run(change) > 0 })
}
