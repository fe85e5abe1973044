import { Duration, Effect, Option } from "effect"
import { BUCKETS, DeliveryShare } from "../DeliveryShare.js"
import type { StoreUnavailable } from "../Outbox.js"
import type { Database } from "./Database.js"
import { RENEW_EVERY, TTL } from "./Lease.js"

/** A holder stops delivering this long before its leases could run out (see `Lease`). */
const MARGIN = Duration.seconds(3)
/** How often a bucket given up is checked for deliveries still in flight. */
const DRAIN_CHECK = Duration.millis(100)

/** Says this instance delivers `sink`; yields how many instances do (this one included). */
const HEARTBEAT = `WITH beat AS (
  INSERT INTO sink_deliverers (sink, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
  ON CONFLICT (sink, holder) DO UPDATE SET expires_at = excluded.expires_at
  RETURNING holder
)
SELECT 1 + count(*)::int AS live FROM sink_deliverers WHERE sink = $1 AND holder <> $2 AND expires_at > now()`

const RENEW = `UPDATE bucket_leases SET expires_at = now() + $3 * interval '1 millisecond'
WHERE sink = $1 AND holder = $2 AND bucket = ANY($4::smallint[])
RETURNING bucket`

/** Takes up to $5 buckets that nobody holds, or whose lease ran out, in random order. */
const TAKE = `WITH free AS (
  SELECT b AS bucket FROM generate_series(0, ${BUCKETS - 1}) AS b
  WHERE NOT EXISTS (SELECT 1 FROM bucket_leases WHERE sink = $1 AND bucket = b AND expires_at > now())
  ORDER BY random() LIMIT $4
)
INSERT INTO bucket_leases (sink, bucket, holder, expires_at)
SELECT $1, bucket, $2, now() + $3 * interval '1 millisecond' FROM free
ON CONFLICT (sink, bucket) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE bucket_leases.expires_at < now() OR bucket_leases.holder = excluded.holder
RETURNING bucket`

const RELEASE = "DELETE FROM bucket_leases WHERE sink = $1 AND holder = $2 AND bucket = ANY($3::smallint[])"
const LEAVE = "DELETE FROM sink_deliverers WHERE sink = $1 AND holder = $2"

/**
 * A sink's deliveries shared among the instances on one PostgreSQL store: delivery keys hash into `BUCKETS` buckets,
 * each leased by one instance at a time (a row with a holder and an expiry, like `Lease`). Every `RENEW_EVERY` each
 * instance says it is alive, renews its buckets, and moves towards its fair share (the buckets divided by the
 * instances alive): it takes free or expired buckets, or gives up its extra ones, each only once its deliveries in
 * flight are recorded, so a key's order holds across the move. An instance that dies stops renewing; its buckets are
 * free once `TTL` has passed and the others take them at their next renewal.
 */
export const make = (db: Database, holder: string) => {
  const ttlMs = Duration.toMillis(TTL)
  const marginMs = Duration.toMillis(MARGIN)

  /**
   * Keeps `share` leased until a lease is lost (not renewed in time, or taken by another): then says why. Gives up
   * every bucket when it ends, however it ends.
   */
  const keep = (sink: string, share: DeliveryShare): Effect.Effect<string, never> => {
    /** Buckets held, usable or being given up. */
    const held = new Set<number>()
    const draining = new Set<number>()
    let deadline = Number.POSITIVE_INFINITY

    const renewed = (buckets: ReadonlyArray<number>, sentAt: number) => {
      for (const bucket of buckets) held.add(bucket)
      deadline = Math.min(deadline, sentAt + ttlMs - marginMs)
    }

    const release = (buckets: ReadonlyArray<number>) =>
      buckets.length === 0 ? Effect.void : db.query(RELEASE, [sink, holder, buckets]).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            for (const bucket of buckets) {
              held.delete(bucket)
              draining.delete(bucket)
            }
          })
        ),
        Effect.asVoid
      )

    /** One round: alive, renewed, balanced. Fails when the store cannot be reached; says so when a lease was lost. */
    const round: Effect.Effect<Option.Option<string>, StoreUnavailable> = Effect.gen(function*() {
      const sentAt = performance.now()
      const [{ live }] = (yield* db.query<{ live: number }>(HEARTBEAT, [sink, holder, ttlMs])) as [{ live: number }]
      if (held.size > 0) {
        const kept = new Set((yield* db.query<{ bucket: number }>(RENEW, [sink, holder, ttlMs, [...held]])).map(
          (row) => row.bucket
        ))
        if ([...held].some((bucket) => !kept.has(bucket))) return Option.some("taken by another instance")
        deadline = Number.POSITIVE_INFINITY
        renewed([...kept], sentAt)
      }
      const fair = Math.ceil(BUCKETS / live)
      if (held.size < fair) {
        const taken = yield* db.query<{ bucket: number }>(TAKE, [sink, holder, ttlMs, fair - held.size])
        renewed(taken.map((row) => row.bucket), sentAt)
        for (const { bucket } of taken) share.take(bucket)
      }
      const extra = held.size - draining.size - fair
      for (const bucket of [...held].filter((b) => !draining.has(b)).slice(0, Math.max(0, extra))) {
        share.drop(bucket)
        draining.add(bucket)
      }
      return Option.none()
    })

    /** Gives up the drained buckets whose deliveries in flight are recorded, until the next round is due. */
    const drain = (until: number) =>
      Effect.gen(function*() {
        while (performance.now() < until) {
          yield* release([...draining].filter((bucket) => !share.busy(bucket))).pipe(Effect.ignore)
          yield* Effect.sleep(
            Duration.millis(Math.max(0, Math.min(Duration.toMillis(DRAIN_CHECK), until - performance.now())))
          )
        }
      })

    return Effect.gen(function*() {
      while (true) {
        const outcome = yield* Effect.either(
          Effect.timeout(round, Duration.millis(Math.max(1, deadline - performance.now())))
        )
        if (outcome._tag === "Right" && Option.isSome(outcome.right)) return outcome.right.value
        if (performance.now() >= deadline) return "not renewed in time"
        const next = performance.now() + Duration.toMillis(RENEW_EVERY) + Math.random() * 500
        yield* drain(Math.min(next, deadline))
      }
    }).pipe(
      Effect.ensuring(
        Effect.suspend(() => release([...held])).pipe(
          Effect.zipRight(db.query(LEAVE, [sink, holder])),
          Effect.timeout(Duration.seconds(1)),
          Effect.ignore
        )
      )
    )
  }

  return {
    /**
     * Runs `work` with this instance's share of `sink`'s buckets, kept up to date; when a lease is lost, `work` is
     * interrupted (its deliveries in flight stop) and starts again with the buckets the instance can take.
     */
    share: <E, R>(
      sink: string,
      work: (share: DeliveryShare) => Effect.Effect<never, E, R>
    ): Effect.Effect<never, E, R> =>
      Effect.gen(function*() {
        while (true) {
          const share = DeliveryShare.leasing()
          const reason = yield* Effect.raceFirst(work(share), keep(sink, share))
          yield* Effect.logWarning("lost a delivery lease; delivery restarted").pipe(
            Effect.annotateLogs({ sink, holder, reason })
          )
        }
      })
  }
}
