import type { MirrorChange } from "../mirror/Rows.js"

/** How a database writes the n-th statement parameter: PostgreSQL `$1`; SQLite (better-sqlite3) `?`, in order. */
export type Placeholder = (n: number) => string

/** A row is replaced only by a state at least as new: (updated_at, notified_at), a missing time counting as oldest. */
const NEWER = (table: string) =>
  `(COALESCE(excluded.updated_at, -1), COALESCE(excluded.notified_at, -1)) >= ` +
  `(COALESCE(${table}.updated_at, -1), COALESCE(${table}.notified_at, -1))`

const parameters = (count: number, p: Placeholder) =>
  Array.from({ length: count }, (_, index) => p(index + 1)).join(", ")

/**
 * The mirror's four statements, the same rules on both stores; each returns a row when it changed one. `deleted_at`
 * is never cleared, so a `created` that arrives after the deletion leaves the contact deleted; a deletion of a contact
 * never seen makes its row from the deleted item.
 */
export const mirrorStatements = (p: Placeholder): Readonly<Record<MirrorChange["_tag"], string>> => ({
  UpsertContact: `INSERT INTO intercom_contacts
  (id, role, external_id, email, name, created_at, updated_at, data, notified_at)
VALUES (${parameters(9, p)})
ON CONFLICT (id) DO UPDATE SET role = excluded.role, external_id = excluded.external_id, email = excluded.email,
  name = excluded.name, created_at = excluded.created_at, updated_at = excluded.updated_at, data = excluded.data,
  notified_at = excluded.notified_at
WHERE ${NEWER("intercom_contacts")}
RETURNING 1`,
  DeleteContact: `INSERT INTO intercom_contacts
  (id, role, external_id, email, name, created_at, updated_at, data, notified_at, deleted_at)
VALUES (${parameters(10, p)})
ON CONFLICT (id) DO UPDATE SET deleted_at = COALESCE(intercom_contacts.deleted_at, excluded.deleted_at)
WHERE intercom_contacts.deleted_at IS NULL
RETURNING 1`,
  UpsertConversation: `INSERT INTO intercom_conversations
  (id, state, open, admin_assignee_id, team_assignee_id, created_at, updated_at, data, notified_at)
VALUES (${parameters(9, p)})
ON CONFLICT (id) DO UPDATE SET state = excluded.state, open = excluded.open,
  admin_assignee_id = excluded.admin_assignee_id, team_assignee_id = excluded.team_assignee_id,
  created_at = excluded.created_at, updated_at = excluded.updated_at, data = excluded.data,
  notified_at = excluded.notified_at
WHERE ${NEWER("intercom_conversations")}
RETURNING 1`,
  LinkTag: `INSERT INTO intercom_contact_tags (contact_id, tag_id, tag_name, tagged_at) VALUES (${parameters(4, p)})
ON CONFLICT (contact_id, tag_id) DO UPDATE SET tag_name = excluded.tag_name, tagged_at = excluded.tagged_at
WHERE COALESCE(excluded.tagged_at, -1) >= COALESCE(intercom_contact_tags.tagged_at, -1)
RETURNING 1`
})

/** The parameters of a change's statement, in its order. */
export const mirrorValues = (change: MirrorChange): ReadonlyArray<string | number | boolean | null> => {
  switch (change._tag) {
    case "UpsertContact":
    case "DeleteContact": {
      const row = change.row
      const contact = [row.id, row.role, row.externalId, row.email, row.name, row.createdAt, row.updatedAt, row.data]
      return change._tag === "UpsertContact"
        ? [...contact, row.notifiedAt]
        : [...contact, row.notifiedAt, change.deletedAt]
    }
    case "UpsertConversation": {
      const row = change.row
      return [
        row.id,
        row.state,
        row.open,
        row.adminAssigneeId,
        row.teamAssigneeId,
        row.createdAt,
        row.updatedAt,
        row.data,
        row.notifiedAt
      ]
    }
    case "LinkTag":
      return [change.link.contactId, change.link.tagId, change.link.tagName, change.link.taggedAt]
  }
}
