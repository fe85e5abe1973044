import type { Redacted } from "effect"
import { Context, Duration, Effect, Either, Layer, Option, Schedule } from "effect"
import type { StoreSettings } from "../config/ReceiverConfig.js"
import type { MirrorChange } from "../mirror/Rows.js"
import { asBuffer, type NotificationBytes } from "../pipeline/Notification.js"
import { DeliveryShare } from "./DeliveryShare.js"
import { MIRROR_SINK, MirrorCounts, type MirrorOutcome, MirrorRefused } from "./Mirror.js"
import { NotificationLogStore } from "./NotificationLog.js"
import { type DeadLetterCount, LEGACY_KEY, Outbox, OutboxFull, type ReplayFilter, StoreUnavailable } from "./Outbox.js"
import * as BucketLeases from "./Postgres/BucketLeases.js"
import * as Database from "./Postgres/Database.js"
import * as GroupCommit from "./Postgres/GroupCommit.js"
import * as Lease from "./Postgres/Lease.js"
import * as Log from "./Postgres/Log.js"
import { migrate } from "./Postgres/Migrations.js"
import { applyChanges } from "./Postgres/Mirror.js"
import * as Reconcile from "./Postgres/Reconcile.js"
import { ADD_DEAD_LETTER, BURY, CLAIM, DUE_BY_KEY, DUE_IN_RECEIVE_ORDER, first, QUEUE } from "./Postgres/Statements.js"
import { queuedSignals } from "./QueuedSignals.js"
import { ReconcileStore } from "./Reconcile.js"
import {
  type DeadLetterRow,
  type OutboxRow,
  toEntry,
  toWaiting,
  WAITING_COLUMNS,
  type WaitingRow
} from "./StoredRows.js"

/** Other instances queue deliveries without waking this one's workers: they look this often. */
const POLL = Duration.seconds(1)

/**
 * The store in PostgreSQL, shared by every instance pointed at the same database. Every write the 2xx depends on is
 * one statement, committed before it returns (with the server's `synchronous_commit`, on by default). Concurrent
 * accepts share a statement (group commit), and so do concurrent dedupe reads: the request path costs the database two
 * statements per batch rather than two per request. The dedupe id is claimed with `INSERT ... ON CONFLICT`, which makes a
 * concurrent claim of the same id on another instance wait for this one's commit and then see it: an id is accepted
 * once across the cluster.
 */
const make = (config: StoreSettings, url: Redacted.Redacted<URL>) =>
  Effect.gen(function*() {
    const db = yield* Database.make(config, url)
    yield* migrate(db).pipe(
      Effect.mapError((error) => new StoreUnavailable({ message: `cannot migrate the store: ${error.message}` }))
    )
    const lease = Lease.make(db)
    const buckets = BucketLeases.make(db, lease.holder)
    const windowMs = Duration.toMillis(config.dedupeWindow)

    // Undelivered rows across the cluster, counted now and then and kept up to date with this instance's own writes:
    // `OUTBOX_MAX_ROWS` is a brake, not an exact quota.
    const count = db.query<{ n: number }>("SELECT count(*)::bigint AS n FROM outbox").pipe(
      Effect.map((rows) => rows[0]!.n)
    )
    let rows = yield* count
    yield* count.pipe(
      Effect.tap((n) => Effect.sync(() => rows = n)),
      Effect.ignore,
      Effect.repeat(Schedule.spaced(Duration.seconds(2))),
      Effect.forkScoped
    )
    yield* Effect.suspend(() => db.query("DELETE FROM seen WHERE seen_at < $1", [Date.now() - windowMs])).pipe(
      Effect.ignore,
      Effect.delay(Duration.seconds(5)),
      Effect.repeat(Schedule.spaced(Duration.minutes(1))),
      Effect.forkScoped
    )

    const { waitQueued, wake } = queuedSignals()

    const { accept, seen } = yield* GroupCommit.make(db, windowMs, (sinks) => {
      rows += sinks.length
      wake(sinks)
    })

    const replay = (filter: ReplayFilter) => {
      const params: Array<unknown> = [Date.now(), Option.getOrNull(filter.sink)]
      const where = deadLetterFilter(filter, params, "with a sink")
      // The UPDATE locks what it marks: a concurrent replay waits, then finds those already replayed.
      return db.transaction(Duration.minutes(5), (query) =>
        query(
          `WITH picked AS (
            UPDATE dead_letters SET replayed_at = $1 WHERE ${where}
            RETURNING id, sink, delivery_key, notification_id, topic, intercom_topic, app_id, received_at, body
          )
          INSERT INTO outbox
            (sink, delivery_key, notification_id, topic, intercom_topic, app_id, received_at, body, next_attempt_at)
          SELECT COALESCE($2, sink), COALESCE(delivery_key, '${LEGACY_KEY}'), notification_id, topic, intercom_topic,
            app_id, received_at, body, $1
          FROM picked ORDER BY id
          RETURNING sink`,
          params
        )).pipe(
          Effect.map((replayed) => replayed.map((row) => row.sink as string)),
          Effect.tap((sinks) =>
            Effect.sync(() => {
              rows += sinks.length
              wake(sinks)
            })
          ),
          Effect.map((sinks) => sinks.length)
        )
    }

    const mirrorCounts = new MirrorCounts()
    const recorded = (sinks: ReadonlyArray<string>) => (outcome: { readonly mirrored: ReadonlyArray<MirrorOutcome> }) =>
      Effect.sync(() => {
        mirrorCounts.record(outcome.mirrored)
        rows += sinks.length
        wake(sinks)
      })

    /**
     * A notification with mirror changes takes a transaction of its own rather than the shared statement: its id, its
     * deliveries and its changes commit together, so it is applied once whichever instance takes it. Changes whose
     * values the server refuses are undone alone (a savepoint) and the notification is queued for the mirror instead,
     * whose worker makes it a dead letter: the notification is accepted all the same.
     */
    const acceptMirrored = (
      notification: NotificationBytes,
      sinks: ReadonlyArray<string>,
      changes: ReadonlyArray<MirrorChange>
    ) =>
      db.transaction(config.storeStatementTimeout, async (query) => {
        const now = Date.now()
        if (notification.id !== null && (await query(CLAIM, [notification.id, now, now - windowMs])).length === 0) {
          return { result: "duplicate" as const, mirrored: [], queued: [] }
        }
        const applied = await applyChanges(query, changes)
        const queued = Either.isRight(applied) ? sinks : [...sinks, MIRROR_SINK]
        for (const sink of queued) {
          await query(QUEUE, [
            sink,
            notification.id,
            notification.topic,
            notification.intercomTopic,
            notification.appId,
            notification.receivedAt.getTime(),
            asBuffer(notification.body),
            now,
            notification.deliveryKey
          ])
        }
        return { result: "accepted" as const, mirrored: Either.getOrElse(applied, () => []), queued }
      }).pipe(
        Effect.tap((outcome) => outcome.result === "accepted" ? recorded(outcome.queued)(outcome) : Effect.void),
        Effect.map((outcome) => outcome.result)
      )

    const outbox = Outbox.of({
      seen,
      accept: (notification, sinks, changes = []) =>
        sinks.length > 0 && rows >= config.outboxMaxRows
          ? Effect.fail(new OutboxFull({ limit: config.outboxMaxRows }))
          : changes.length === 0
          ? accept(notification, sinks)
          : acceptMirrored(notification, sinks, changes),
      applyMirror: (changes) =>
        db.transaction(config.storeStatementTimeout, (query) => applyChanges(query, changes)).pipe(
          Effect.flatMap(Either.match({
            onLeft: (message) => Effect.fail(new MirrorRefused({ message })),
            onRight: (mirrored) => recorded([])({ mirrored })
          }))
        ),
      mirrorCounts,
      due: (sink, { buckets, busy, limit, now, order }) =>
        Effect.map(
          order === "key"
            ? db.query<OutboxRow>(DUE_BY_KEY, [sink, now, limit, busy, buckets ?? null])
            : db.query<OutboxRow>(DUE_IN_RECEIVE_ORDER, [sink, now, limit]),
          (found) => found.map(toEntry)
        ),
      nextDue: (sink, now) =>
        Effect.map(
          db.query<{ at: number | null }>(
            "SELECT min(next_attempt_at) AS at FROM outbox WHERE sink = $1 AND next_attempt_at > $2",
            [sink, now]
          ),
          (found) => Option.fromNullable(found[0]?.at)
        ),
      delivered: (_sink, seqs) =>
        seqs.length === 0 ? Effect.void : db.query("DELETE FROM outbox WHERE seq = ANY($1::bigint[])", [seqs]).pipe(
          Effect.tap(() => Effect.sync(() => rows -= seqs.length)),
          Effect.asVoid
        ),
      retryLater: (seq, attempts, at, error) =>
        Effect.asVoid(
          db.query("UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE seq = $4", [
            attempts,
            at,
            error,
            seq
          ])
        ),
      bury: (entry, reason, error, attempts) =>
        db.query<DeadLetterRow>(BURY, [
          entry.seq,
          entry.sink,
          reason,
          error,
          attempts,
          entry.notificationId,
          entry.intercomTopic,
          entry.receivedAt.getTime(),
          asBuffer(entry.body),
          Date.now(),
          entry.key
        ]).pipe(Effect.tap(() => Effect.sync(() => rows--)), Effect.flatMap(first)),
      addDeadLetter: (notification, reason, error) =>
        Effect.flatMap(
          db.query<DeadLetterRow>(ADD_DEAD_LETTER, [
            reason,
            error,
            notification.id,
            notification.topic,
            notification.intercomTopic,
            notification.appId,
            notification.receivedAt.getTime(),
            asBuffer(notification.body),
            Date.now(),
            notification.deliveryKey
          ]),
          first
        ),
      replay,
      deadLetters: (filter, limit) =>
        Effect.suspend(() => {
          const params: Array<unknown> = []
          const where = deadLetterFilter(filter, params, "any")
          params.push(limit)
          return db.query<WaitingRow>(
            `SELECT ${WAITING_COLUMNS} FROM dead_letters WHERE ${where} ORDER BY id LIMIT $${params.length}`,
            params
          )
        }).pipe(Effect.map((rows) => rows.map(toWaiting))),
      discard: (filter) =>
        Effect.suspend(() => {
          const params: Array<unknown> = []
          const where = deadLetterFilter(filter, params, "any")
          return db.query<{ id: number }>(`DELETE FROM dead_letters WHERE ${where} RETURNING id`, params)
        }).pipe(Effect.map((rows) => rows.length)),
      deadLetterCounts: db.query<DeadLetterCount>(
        `SELECT sink, reason, count(*)::bigint AS count FROM dead_letters WHERE replayed_at IS NULL
        GROUP BY sink, reason`
      ),
      depth: Effect.map(
        db.query<{ n: number; oldest: number | null }>(
          "SELECT count(*)::bigint AS n, min(received_at) AS oldest FROM outbox"
        ),
        ([row]) => ({ count: row!.n, oldest: Option.map(Option.fromNullable(row!.oldest), (at) => new Date(at)) })
      ),
      depthBySink: db.query<{ sink: string; count: number; oldest: number }>(
        "SELECT sink, count(*)::bigint AS count, min(received_at) AS oldest FROM outbox GROUP BY sink"
      ),
      probe: Effect.suspend(() =>
        Effect.asVoid(
          db.query("INSERT INTO probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at", [
            Date.now()
          ])
        )
      ),
      waitQueued: (sink) => waitQueued(sink).pipe(Effect.timeout(POLL), Effect.ignore),
      deliveries: (sink, order, work) =>
        order === "receive" ? lease.exclusive(sink, work(DeliveryShare.all())) : buckets.share(sink, work)
    })
    return { outbox, reconcile: Reconcile.make(db, lease, mirrorCounts), log: Log.make(db) }
  })

/**
 * The conditions on `dead_letters` that pick a replay filter's, never replayed ones, its values added to `params` (as
 * `$n` in that order): those of its sink and those without one (which a replay sends to it); without a sink, those that
 * have one, or `any`.
 */
const deadLetterFilter = (filter: ReplayFilter, params: Array<unknown>, sinkless: "with a sink" | "any") => {
  const conditions = ["replayed_at IS NULL"]
  if (Option.isSome(filter.sink)) {
    params.push(filter.sink.value)
    conditions.push(`(sink = $${params.length} OR sink IS NULL)`)
  } else if (sinkless === "with a sink") conditions.push("sink IS NOT NULL")
  if (Option.isSome(filter.topic)) {
    params.push(filter.topic.value)
    conditions.push(`(topic = $${params.length} OR intercom_topic = $${params.length})`)
  }
  if (Option.isSome(filter.since)) {
    params.push(filter.since.value.getTime())
    conditions.push(`dead_at >= $${params.length}`)
  }
  if (filter.ids !== undefined) {
    params.push(filter.ids)
    conditions.push(`id = ANY($${params.length}::bigint[])`)
  }
  return conditions.join(" AND ")
}

/** PostgreSQL at `url`, migrated to the current schema before anything else. */
export const layerWith = (config: StoreSettings, url: Redacted.Redacted<URL>) =>
  Layer.scopedContext(
    Effect.map(make(config, url), ({ log, outbox, reconcile }) =>
      Context.make(Outbox, outbox).pipe(
        Context.add(ReconcileStore, reconcile),
        Context.add(NotificationLogStore, log)
      ))
  )
