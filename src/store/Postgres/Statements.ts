/** The PostgreSQL store's statements; times are epoch milliseconds, bodies bytea. */
import { Effect } from "effect"
import { StoreUnavailable } from "../Outbox.js"
import { type DeadLetterRow, toDeadLetter } from "../StoredRows.js"

/**
 * A batch of accepts in one statement, so one round trip and one commit: claims the new ids (an id accepted within the
 * window is left alone and not returned) and queues a delivery per sink for notifications without an id or with a
 * claimed one, in the batch's order. Ids are claimed in sorted order: two instances claiming overlapping batches at
 * once then wait for each other in one direction only, never in a deadlock.
 */
export const ACCEPT = `WITH claimed AS (
  INSERT INTO seen (notification_id, seen_at) SELECT id, $1 FROM unnest($2::text[]) AS id ORDER BY id
  ON CONFLICT (notification_id) DO UPDATE SET seen_at = excluded.seen_at WHERE seen.seen_at < $3
  RETURNING notification_id
), queued AS (
  INSERT INTO outbox
    (sink, delivery_key, notification_id, topic, intercom_topic, app_id, received_at, body, next_attempt_at)
  SELECT r.sink, r.delivery_key, r.id, r.topic, r.intercom_topic, r.app_id, r.received_at, r.body, $1
  FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bytea[], $11::text[])
    WITH ORDINALITY AS r (sink, id, topic, intercom_topic, app_id, received_at, body, delivery_key, ord)
  WHERE r.id IS NULL OR r.id IN (SELECT notification_id FROM claimed)
  ORDER BY r.ord
  RETURNING 1
)
SELECT notification_id FROM claimed`

/** One id claimed, for a notification accepted in a transaction of its own (one with mirror changes). */
export const CLAIM = `INSERT INTO seen (notification_id, seen_at) VALUES ($1, $2)
ON CONFLICT (notification_id) DO UPDATE SET seen_at = excluded.seen_at WHERE seen.seen_at < $3
RETURNING notification_id`

export const QUEUE = `INSERT INTO outbox
  (sink, notification_id, topic, intercom_topic, app_id, received_at, body, next_attempt_at, delivery_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

export const SEEN = "SELECT notification_id FROM seen WHERE notification_id = ANY($1::text[]) AND seen_at >= $2"

const ENTRY_COLUMNS = "seq, sink, delivery_key, bucket, notification_id, intercom_topic, received_at, body, attempts"

/** From the head of the sink's queue up to the first delivery still waiting for its retry, excluded. */
export const DUE_IN_RECEIVE_ORDER = `SELECT ${ENTRY_COLUMNS} FROM (
  SELECT *, bool_or(next_attempt_at > $2) OVER (ORDER BY seq) AS held_back
  FROM outbox WHERE sink = $1 ORDER BY seq LIMIT $3
) AS head WHERE NOT held_back ORDER BY seq`

/**
 * Of each key but the busy ones ($4), in the buckets $5 (all when null), its deliveries from the oldest up to the
 * first still waiting for its retry, oldest first.
 */
export const DUE_BY_KEY = `SELECT ${ENTRY_COLUMNS} FROM outbox AS o
WHERE sink = $1 AND next_attempt_at <= $2 AND NOT (delivery_key = ANY($4::text[]))
AND ($5::smallint[] IS NULL OR bucket = ANY($5::smallint[]))
AND NOT EXISTS (
  SELECT 1 FROM outbox AS w
  WHERE w.sink = $1 AND w.delivery_key = o.delivery_key AND w.next_attempt_at > $2 AND w.seq < o.seq
)
ORDER BY seq LIMIT $3`

const DEAD_LETTER_COLUMNS =
  "id, sink, reason, error, attempts, notification_id, topic, intercom_topic, app_id, received_at, body"

export const BURY = `WITH taken AS (DELETE FROM outbox WHERE seq = $1 RETURNING topic, app_id)
INSERT INTO dead_letters
  (sink, reason, error, attempts, notification_id, topic, intercom_topic, app_id, received_at, body, dead_at,
  delivery_key)
VALUES ($2, $3, $4, $5, $6, (SELECT topic FROM taken), $7, (SELECT app_id FROM taken), $8, $9, $10, $11)
RETURNING ${DEAD_LETTER_COLUMNS}`

export const ADD_DEAD_LETTER = `INSERT INTO dead_letters
  (sink, reason, error, attempts, notification_id, topic, intercom_topic, app_id, received_at, body, dead_at,
  delivery_key)
VALUES (NULL, $1, $2, 0, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING ${DEAD_LETTER_COLUMNS}`

/** The first dead letter a statement returned, or a failure saying none came back. */
export const first = (rows: ReadonlyArray<DeadLetterRow>) =>
  rows.length > 0
    ? Effect.succeed(toDeadLetter(rows[0]!))
    : Effect.fail(new StoreUnavailable({ message: "the dead letter was not stored" }))
