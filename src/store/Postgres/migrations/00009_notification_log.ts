/** The notification log the console reads, its per-minute counts, and the dead letters found by notification. */
export const statements = [
  `CREATE TABLE notification_log (
    seq bigserial PRIMARY KEY,
    notification_id text,
    topic text,
    intercom_topic text NOT NULL,
    app_id text,
    received_at bigint NOT NULL,
    entity text NOT NULL,
    outcome text NOT NULL,
    schema_mismatch text,
    sinks text NOT NULL,
    body bytea NOT NULL
  )`,
  "CREATE INDEX notification_log_received ON notification_log (received_at, seq)",
  "CREATE INDEX notification_log_id ON notification_log (notification_id)",
  "CREATE INDEX notification_log_entity ON notification_log (entity, received_at, seq)",
  "CREATE INDEX notification_log_topic ON notification_log (topic, received_at, seq)",
  `CREATE TABLE notification_minutes (
    minute bigint NOT NULL,
    outcome text NOT NULL,
    count bigint NOT NULL,
    PRIMARY KEY (minute, outcome)
  )`,
  "CREATE INDEX dead_letters_notification ON dead_letters (notification_id)"
]
