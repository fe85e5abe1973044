/**
 * The outbox, the dedupe ids and the dead letters: the SQLite store's tables, with times as epoch milliseconds (the
 * writing instance's clock) and bodies as bytea.
 */
export const statements = [
  `CREATE TABLE outbox (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sink text NOT NULL,
    notification_id text,
    topic text,
    intercom_topic text NOT NULL,
    app_id text,
    received_at bigint NOT NULL,
    body bytea NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at bigint NOT NULL,
    last_error text
  )`,
  // A sink's queue is read from its oldest delivery on, never by due time (a waiting head holds back the rest).
  "CREATE INDEX outbox_order ON outbox (sink, seq)",
  "CREATE TABLE seen (notification_id text PRIMARY KEY, seen_at bigint NOT NULL)",
  "CREATE INDEX seen_at ON seen (seen_at)",
  `CREATE TABLE dead_letters (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sink text,
    reason text NOT NULL,
    error text NOT NULL,
    attempts integer NOT NULL,
    notification_id text,
    topic text,
    intercom_topic text NOT NULL,
    app_id text,
    received_at bigint NOT NULL,
    dead_at bigint NOT NULL,
    body bytea NOT NULL,
    replayed_at bigint
  )`,
  "CREATE TABLE probe (id integer PRIMARY KEY CHECK (id = 1), at bigint NOT NULL)"
]
