/** The mirror's tables: Intercom contacts, conversations and tag links, times as unix seconds, `data` the item. */
export const statements = [
  `CREATE TABLE intercom_contacts (
    id text PRIMARY KEY,
    role text,
    external_id text,
    email text,
    name text,
    created_at bigint,
    updated_at bigint,
    deleted_at bigint,
    data jsonb NOT NULL,
    notified_at bigint
  )`,
  `CREATE TABLE intercom_conversations (
    id text PRIMARY KEY,
    state text,
    open boolean,
    admin_assignee_id text,
    team_assignee_id text,
    created_at bigint,
    updated_at bigint,
    data jsonb NOT NULL,
    notified_at bigint
  )`,
  `CREATE TABLE intercom_contact_tags (
    contact_id text NOT NULL,
    tag_id text NOT NULL,
    tag_name text,
    tagged_at bigint,
    PRIMARY KEY (contact_id, tag_id)
  )`
]
