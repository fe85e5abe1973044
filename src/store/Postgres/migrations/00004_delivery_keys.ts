/**
 * Delivery keys: a sink takes the deliveries of one key in receive order and those of different keys side by side.
 * Rows queued before share the key `legacy`, so they keep their order. `bucket` spreads the keys over the 64 buckets
 * that instances lease to share a sink's deliveries; the database computes it, so every instance agrees.
 */
export const statements = [
  "ALTER TABLE outbox ADD COLUMN delivery_key text NOT NULL DEFAULT 'legacy'",
  "ALTER TABLE outbox ALTER COLUMN delivery_key DROP DEFAULT",
  "ALTER TABLE outbox ADD COLUMN bucket smallint NOT NULL GENERATED ALWAYS AS (hashtext(delivery_key) & 63) STORED",
  "CREATE INDEX outbox_key_waiting ON outbox (sink, delivery_key, next_attempt_at)",
  "ALTER TABLE dead_letters ADD COLUMN delivery_key text"
]
