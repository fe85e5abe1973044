/**
 * Versions written before they were bounded froze mirror rows: a far-future `updated_at` (`+275760-...` read as
 * seconds, milliseconds where seconds belong) made every genuine update stale. A version of 1e12 or more is read as
 * milliseconds; one still before 1970 or more than 24 hours from now is cleared (NULL, the oldest version). The same
 * repair as the SQLite store's (src/store/SqliteMirror.ts).
 */
const BOUND = "LEAST(253402300799, extract(epoch FROM now())::bigint + 86400)"

const bounded = (column: string) =>
  `${column} = CASE WHEN ${column} BETWEEN 0 AND ${BOUND} THEN ${column}
    WHEN ${column} >= 1000000000000 AND ${column} / 1000 <= ${BOUND} THEN ${column} / 1000 END`

const outOfBounds = (column: string) => `NOT (${column} BETWEEN 0 AND ${BOUND})`

export const statements = [
  ...["intercom_contacts", "intercom_conversations"].map((table) =>
    `UPDATE ${table} SET ${bounded("updated_at")}, ${bounded("notified_at")}
    WHERE ${outOfBounds("updated_at")} OR ${outOfBounds("notified_at")}`
  ),
  `UPDATE intercom_contact_tags SET ${bounded("tagged_at")} WHERE ${outOfBounds("tagged_at")}`
]
