import type { MirrorChange } from "../../mirror/Rows.js"
import { type MirrorOutcome, mirrorTable } from "../Mirror.js"

/** A row is replaced only by a state at least as new: (updated_at, notified_at), a missing time counting as oldest. */
const NEWER = (table: string) =>
  `(COALESCE(excluded.updated_at, -1), COALESCE(excluded.notified_at, -1)) >= ` +
  `(COALESCE(${table}.updated_at, -1), COALESCE(${table}.notified_at, -1))`

const UPSERT_CONTACT = `INSERT INTO intercom_contacts
  (id, role, external_id, email, name, created_at, updated_at, data, notified_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (id) DO UPDATE SET role = excluded.role, external_id = excluded.external_id, email = excluded.email,
  name = excluded.name, created_at = excluded.created_at, updated_at = excluded.updated_at, data = excluded.data,
  notified_at = excluded.notified_at
WHERE ${NEWER("intercom_contacts")}
RETURNING 1`

const DELETE_CONTACT = `INSERT INTO intercom_contacts
  (id, role, external_id, email, name, created_at, updated_at, deleted_at, data, notified_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (id) DO UPDATE SET deleted_at = COALESCE(intercom_contacts.deleted_at, excluded.deleted_at)
WHERE intercom_contacts.deleted_at IS NULL
RETURNING 1`

const UPSERT_CONVERSATION = `INSERT INTO intercom_conversations
  (id, state, open, admin_assignee_id, team_assignee_id, created_at, updated_at, data, notified_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (id) DO UPDATE SET state = excluded.state, open = excluded.open,
  admin_assignee_id = excluded.admin_assignee_id, team_assignee_id = excluded.team_assignee_id,
  created_at = excluded.created_at, updated_at = excluded.updated_at, data = excluded.data,
  notified_at = excluded.notified_at
WHERE ${NEWER("intercom_conversations")}
RETURNING 1`

const LINK_TAG = `INSERT INTO intercom_contact_tags (contact_id, tag_id, tag_name, tagged_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (contact_id, tag_id) DO UPDATE SET tag_name = excluded.tag_name, tagged_at = excluded.tagged_at
WHERE COALESCE(excluded.tagged_at, -1) >= COALESCE(intercom_contact_tags.tagged_at, -1)
RETURNING 1`

/** The statement and values of a change: the same rules as the SQLite store's (SqliteMirror). */
const statementOf = (change: MirrorChange): readonly [string, ReadonlyArray<unknown>] => {
  switch (change._tag) {
    case "UpsertContact": {
      const row = change.row
      return [UPSERT_CONTACT, [
        row.id,
        row.role,
        row.externalId,
        row.email,
        row.name,
        row.createdAt,
        row.updatedAt,
        row.data,
        row.notifiedAt
      ]]
    }
    case "DeleteContact": {
      const row = change.row
      return [DELETE_CONTACT, [
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
      ]]
    }
    case "UpsertConversation": {
      const row = change.row
      return [UPSERT_CONVERSATION, [
        row.id,
        row.state,
        row.open,
        row.adminAssigneeId,
        row.teamAssigneeId,
        row.createdAt,
        row.updatedAt,
        row.data,
        row.notifiedAt
      ]]
    }
    case "LinkTag": {
      const link = change.link
      return [LINK_TAG, [link.contactId, link.tagId, link.tagName, link.taggedAt]]
    }
  }
}

/** Applies one change with `query`, inside the caller's transaction. */
export const applyChange = async (
  query: (text: string, values?: ReadonlyArray<unknown>) => Promise<ReadonlyArray<Record<string, unknown>>>,
  change: MirrorChange
): Promise<MirrorOutcome> => {
  const [text, values] = statementOf(change)
  return { table: mirrorTable(change), applied: (await query(text, values)).length > 0 }
}
