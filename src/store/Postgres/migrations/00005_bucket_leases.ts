/**
 * A sink's deliveries shared among the instances: each bucket of delivery keys is leased by one instance at a time,
 * and each instance delivering a sink says it is alive, so that the others know how many share it.
 */
export const statements = [
  `CREATE TABLE bucket_leases (
    sink text NOT NULL,
    bucket smallint NOT NULL,
    holder text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (sink, bucket)
  )`,
  `CREATE TABLE sink_deliverers (
    sink text NOT NULL,
    holder text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (sink, holder)
  )`
]
