/**
 * Who delivers each outbox sink: one row per sink, held by one instance until `expires_at` (the database's clock, so
 * instances' clocks never have to agree) and renewed while it lives.
 */
export const statements = [
  `CREATE TABLE sink_leases (
    sink text PRIMARY KEY,
    holder text NOT NULL,
    expires_at timestamptz NOT NULL
  )`
]
