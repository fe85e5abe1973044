import { Duration, Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import type { StoreUnavailable } from "../Outbox.js"
import type { Database } from "./Database.js"

/** How long a lease lasts past its last renewal, on the database's clock. */
export const TTL = Duration.seconds(10)
/** How often the holder renews, and how often the others try to take the lease. */
export const RENEW_EVERY = Duration.seconds(2)
/**
 * The holder stops this long before its lease could run out, counting from when it sent the last renewal that
 * succeeded: whatever the network did since, it has stopped delivering before another instance can start.
 */
const MARGIN = Duration.seconds(3)

/** Takes the lease when it is free or expired, or renews it when this holder has it; a row back means held. */
const TAKE = `INSERT INTO sink_leases (sink, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
ON CONFLICT (sink) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE sink_leases.holder = excluded.holder OR sink_leases.expires_at < now()
RETURNING holder`

const RELEASE = "DELETE FROM sink_leases WHERE sink = $1 AND holder = $2"

/**
 * One delivery lease per sink: a row with a holder and an expiry, renewed every `RENEW_EVERY` while its holder lives.
 * A holder that dies (SIGKILL, a machine gone, a network cut the database never notices) stops renewing, and another
 * instance takes the sink once `TTL` has passed: within TTL + RENEW_EVERY (and half a second of jitter).
 *
 * A row rather than an advisory lock: a session lock lives as long as the server believes the session does, which
 * after a network cut can be hours (until TCP keepalive gives up), and it needs a connection held for it outside the
 * pool. The row's expiry is the database's clock alone, and the holder's own deadline is its monotonic clock.
 */
export const make = (db: Database) => {
  const holder = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`
  const ttlMs = Duration.toMillis(TTL)
  const renewMs = Duration.toMillis(RENEW_EVERY)
  const marginMs = Duration.toMillis(MARGIN)

  /** Takes or renews: the monotonic time by which this instance must have stopped, or none when another holds it. */
  const take = (sink: string): Effect.Effect<Option.Option<number>, StoreUnavailable> =>
    Effect.suspend(() => {
      const sentAt = performance.now()
      return Effect.map(
        db.query(TAKE, [sink, holder, ttlMs]),
        (rows) => rows.length > 0 ? Option.some(sentAt + ttlMs - marginMs) : Option.none()
      )
    })

  const acquire = (sink: string) =>
    Effect.gen(function*() {
      while (true) {
        const taken = yield* Effect.orElseSucceed(take(sink), () => Option.none<number>())
        if (Option.isSome(taken)) return taken.value
        yield* Effect.sleep(Duration.millis(renewMs + Math.random() * 500))
      }
    })

  /** Renews until the lease is lost: taken by another, or not renewed in time; says which. */
  const keep = (sink: string, until: number) =>
    Effect.gen(function*() {
      let deadline = until
      while (true) {
        yield* Effect.sleep(Duration.millis(Math.max(0, Math.min(renewMs, deadline - performance.now()))))
        const left = deadline - performance.now()
        if (left <= 0) return "not renewed in time"
        const renewed = yield* Effect.either(Effect.timeout(take(sink), Duration.millis(left)))
        if (renewed._tag === "Right") {
          if (Option.isNone(renewed.right)) return "taken by another instance"
          deadline = renewed.right.value
        }
      }
    })

  const release = (sink: string) =>
    db.query(RELEASE, [sink, holder]).pipe(Effect.timeout(Duration.seconds(1)), Effect.ignore)

  return {
    holder,
    exclusive: <E, R>(sink: string, work: Effect.Effect<never, E, R>): Effect.Effect<never, E, R> =>
      Effect.gen(function*() {
        while (true) {
          const deadline = yield* acquire(sink)
          yield* Effect.logInfo("took the delivery lease").pipe(Effect.annotateLogs({ sink, holder }))
          const reason = yield* Effect.raceFirst(work, keep(sink, deadline)).pipe(Effect.ensuring(release(sink)))
          yield* Effect.logWarning("lost the delivery lease; delivery paused").pipe(
            Effect.annotateLogs({ sink, holder, reason })
          )
        }
      })
  }
}
