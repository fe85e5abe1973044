/** Gap recovery: each instance's last sign of life, and each workspace's watermark and unfinished sweep. */
export const statements = [
  `CREATE TABLE instances_alive (
    instance text PRIMARY KEY,
    alive_at bigint NOT NULL
  )`,
  `CREATE TABLE reconcile_state (
    workspace text PRIMARY KEY,
    watermark bigint NOT NULL,
    pending_since bigint,
    window_since bigint,
    window_until bigint,
    window_deletions boolean,
    phase text,
    cursor text
  )`
]
