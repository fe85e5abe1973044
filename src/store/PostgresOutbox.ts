import { Duration, Effect, Layer, Option, Queue, Redacted, Schedule } from "effect"
import { displayUrl, type StoreSettings } from "../config/ReceiverConfig.js"
import type { Notification } from "../pipeline/Notification.js"
import {
  type DeadLetter,
  type DeadLetterReason,
  Outbox,
  type OutboxEntry,
  OutboxFull,
  StoreUnavailable
} from "./Outbox.js"
import * as Database from "./Postgres/Database.js"
import * as Lease from "./Postgres/Lease.js"
import { migrate } from "./Postgres/Migrations.js"

type Accepted = "accepted" | "duplicate"

interface Pending {
  readonly notification: Notification
  readonly sinks: ReadonlyArray<string>
  readonly done: (result: Effect.Effect<Accepted, StoreUnavailable>) => void
}

interface Reading {
  readonly id: string
  readonly done: (result: Effect.Effect<boolean, StoreUnavailable>) => void
}

interface OutboxRow {
  readonly seq: number
  readonly sink: string
  readonly notification_id: string | null
  readonly intercom_topic: string
  readonly received_at: number
  readonly body: Uint8Array
  readonly attempts: number
}

interface DeadLetterRow {
  readonly id: number
  readonly sink: string | null
  readonly reason: DeadLetterReason
  readonly error: string
  readonly attempts: number
  readonly notification_id: string | null
  readonly topic: string | null
  readonly intercom_topic: string
  readonly app_id: string | null
  readonly received_at: number
  readonly body: Uint8Array
}

const MAX_BATCH = 512
/** Accept statements in flight at once: more batches overlap round trips, fewer make bigger batches. */
const MAX_IN_FLIGHT = 2
/** Other instances queue deliveries without waking this one's workers: they look this often. */
const POLL = Duration.seconds(1)

/**
 * A batch of accepts in one statement, so one round trip and one commit: claims the new ids (an id accepted within the
 * window is left alone and not returned) and queues a delivery per sink for notifications without an id or with a
 * claimed one, in the batch's order. Ids are claimed in sorted order: two instances claiming overlapping batches at
 * once then wait for each other in one direction only, never in a deadlock.
 */
const ACCEPT = `WITH claimed AS (
  INSERT INTO seen (notification_id, seen_at) SELECT id, $1 FROM unnest($2::text[]) AS id ORDER BY id
  ON CONFLICT (notification_id) DO UPDATE SET seen_at = excluded.seen_at WHERE seen.seen_at < $3
  RETURNING notification_id
), queued AS (
  INSERT INTO outbox (sink, notification_id, topic, intercom_topic, app_id, received_at, body, next_attempt_at)
  SELECT r.sink, r.id, r.topic, r.intercom_topic, r.app_id, r.received_at, r.body, $1
  FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bytea[]) WITH ORDINALITY
    AS r (sink, id, topic, intercom_topic, app_id, received_at, body, ord)
  WHERE r.id IS NULL OR r.id IN (SELECT notification_id FROM claimed)
  ORDER BY r.ord
  RETURNING 1
)
SELECT notification_id FROM claimed`

const SEEN = "SELECT notification_id FROM seen WHERE notification_id = ANY($1::text[]) AND seen_at >= $2"

/** From the head of the sink's queue up to the first delivery still waiting for its retry, excluded. */
const DUE = `SELECT seq, sink, notification_id, intercom_topic, received_at, body, attempts FROM (
  SELECT *, bool_or(next_attempt_at > $2) OVER (ORDER BY seq) AS held_back
  FROM outbox WHERE sink = $1 ORDER BY seq LIMIT $3
) AS head WHERE NOT held_back ORDER BY seq`

const DEAD_LETTER_COLUMNS =
  "id, sink, reason, error, attempts, notification_id, topic, intercom_topic, app_id, received_at, body"

const BURY = `WITH taken AS (DELETE FROM outbox WHERE seq = $1 RETURNING topic, app_id)
INSERT INTO dead_letters
  (sink, reason, error, attempts, notification_id, topic, intercom_topic, app_id, received_at, body, dead_at)
VALUES ($2, $3, $4, $5, $6, (SELECT topic FROM taken), $7, (SELECT app_id FROM taken), $8, $9, $10)
RETURNING ${DEAD_LETTER_COLUMNS}`

const ADD_DEAD_LETTER = `INSERT INTO dead_letters
  (sink, reason, error, attempts, notification_id, topic, intercom_topic, app_id, received_at, body, dead_at)
VALUES (NULL, $1, $2, 0, $3, $4, $5, $6, $7, $8, $9)
RETURNING ${DEAD_LETTER_COLUMNS}`

const toEntry = (row: OutboxRow): OutboxEntry => ({
  seq: row.seq,
  sink: row.sink,
  notificationId: row.notification_id,
  intercomTopic: row.intercom_topic,
  receivedAt: new Date(row.received_at),
  body: row.body,
  attempts: row.attempts
})

const toDeadLetter = (row: DeadLetterRow): DeadLetter => ({
  id: row.id,
  sink: row.sink,
  reason: row.reason,
  error: row.error,
  attempts: row.attempts,
  notificationId: row.notification_id,
  topic: row.topic,
  intercomTopic: row.intercom_topic,
  appId: row.app_id,
  receivedAt: new Date(row.received_at),
  body: row.body
})

const bytes = (body: Uint8Array): Buffer => Buffer.from(body.buffer, body.byteOffset, body.byteLength)

/** The first dead letter a statement returned, or a failure saying none came back. */
const first = (rows: ReadonlyArray<DeadLetterRow>) =>
  rows.length > 0
    ? Effect.succeed(toDeadLetter(rows[0]!))
    : Effect.fail(new StoreUnavailable({ message: "the dead letter was not stored" }))

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

    const signals = new Map<string, Queue.Queue<void>>()
    const signal = (sink: string) => {
      let queue = signals.get(sink)
      if (queue === undefined) {
        queue = Effect.runSync(Queue.sliding<void>(1))
        signals.set(sink, queue)
      }
      return queue
    }
    const wake = (sinks: Iterable<string>) => {
      for (const sink of new Set(sinks)) signal(sink).unsafeOffer(undefined)
    }

    // Accepts arriving while `MAX_IN_FLIGHT` statements are under way wait and go together in the next one.
    const waiting: Array<Pending> = []
    let inFlight = 0
    let scheduled = false
    let closed = false
    const flush = (): void => {
      while (inFlight < MAX_IN_FLIGHT && waiting.length > 0) send(waiting.splice(0, MAX_BATCH))
    }
    const send = (batch: ReadonlyArray<Pending>) => {
      const now = Date.now()
      // An id twice in one batch is new once: the later copy is a duplicate before the database sees it.
      const ids = new Set<string>()
      const twice = new Set<Pending>()
      // The outbox rows, one array per column.
      const columns = {
        sink: [] as Array<string>,
        id: [] as Array<string | null>,
        topic: [] as Array<string | null>,
        intercomTopic: [] as Array<string>,
        appId: [] as Array<string | null>,
        receivedAt: [] as Array<number>,
        body: [] as Array<Buffer>
      }
      for (const pending of batch) {
        const { notification } = pending
        if (notification.id !== null) {
          if (ids.has(notification.id)) {
            twice.add(pending)
            continue
          }
          ids.add(notification.id)
        }
        const buffer = bytes(notification.body)
        for (const sink of pending.sinks) {
          columns.sink.push(sink)
          columns.id.push(notification.id)
          columns.topic.push(notification.topic)
          columns.intercomTopic.push(notification.intercomTopic)
          columns.appId.push(notification.appId)
          columns.receivedAt.push(notification.receivedAt.getTime())
          columns.body.push(buffer)
        }
      }
      inFlight++
      db.unsafeQuery(
        ACCEPT,
        [
          now,
          [...ids],
          now - windowMs,
          columns.sink,
          columns.id,
          columns.topic,
          columns.intercomTopic,
          columns.appId,
          columns.receivedAt,
          columns.body
        ],
        (error, claimed) => {
          inFlight--
          if (error !== undefined) {
            for (const pending of batch) pending.done(Effect.fail(error))
          } else {
            const taken = new Set(claimed.map((row) => row.notification_id as string))
            const queued: Array<string> = []
            for (const pending of batch) {
              const id = pending.notification.id
              const accepted = !twice.has(pending) && (id === null || taken.has(id))
              if (accepted) {
                rows += pending.sinks.length
                queued.push(...pending.sinks)
              }
              pending.done(Effect.succeed(accepted ? "accepted" : "duplicate"))
            }
            wake(queued)
          }
          flush()
        }
      )
    }
    const schedule = () => {
      if (scheduled) return
      scheduled = true
      setImmediate(() => {
        scheduled = false
        flush()
      })
    }
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        closed = true
        flush()
        while (inFlight > 0 || waiting.length > 0) await new Promise((resolve) => setTimeout(resolve, 5))
      })
    )

    const accept = (notification: Notification, sinks: ReadonlyArray<string>) =>
      Effect.async<Accepted, StoreUnavailable>((resume) => {
        if (closed) return resume(Effect.fail(new StoreUnavailable({ message: "the store is closed" })))
        waiting.push({ notification, sinks, done: resume })
        schedule()
      })

    // Dedupe reads arriving in the same turn of the event loop share one statement.
    const reading: Array<Reading> = []
    const read = () => {
      const batch = reading.splice(0)
      db.unsafeQuery(SEEN, [batch.map((pending) => pending.id), Date.now() - windowMs], (error, found) => {
        const ids = new Set(found.map((row) => row.notification_id as string))
        for (const pending of batch) {
          pending.done(error === undefined ? Effect.succeed(ids.has(pending.id)) : Effect.fail(error))
        }
      })
    }
    const seen = (id: string) =>
      Effect.async<boolean, StoreUnavailable>((resume) => {
        if (reading.push({ id, done: resume }) === 1) setImmediate(read)
      })

    const replay = (filter: Parameters<Outbox["Type"]["replay"]>[0]) => {
      const conditions = ["replayed_at IS NULL"]
      const params: Array<unknown> = [Date.now(), Option.getOrNull(filter.sink)]
      if (Option.isSome(filter.sink)) conditions.push("(sink = $2 OR sink IS NULL)")
      else conditions.push("sink IS NOT NULL")
      if (Option.isSome(filter.topic)) {
        params.push(filter.topic.value)
        conditions.push(`(topic = $${params.length} OR intercom_topic = $${params.length})`)
      }
      if (Option.isSome(filter.since)) {
        params.push(filter.since.value.getTime())
        conditions.push(`dead_at >= $${params.length}`)
      }
      // The UPDATE locks what it marks: a concurrent replay waits, then finds those already replayed.
      return db.transaction(Duration.minutes(5), (query) =>
        query(
          `WITH picked AS (
            UPDATE dead_letters SET replayed_at = $1 WHERE ${conditions.join(" AND ")}
            RETURNING id, sink, notification_id, topic, intercom_topic, app_id, received_at, body
          )
          INSERT INTO outbox (sink, notification_id, topic, intercom_topic, app_id, received_at, body, next_attempt_at)
          SELECT COALESCE($2, sink), notification_id, topic, intercom_topic, app_id, received_at, body, $1
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

    return Outbox.of({
      seen,
      accept: (notification, sinks) =>
        sinks.length > 0 && rows >= config.outboxMaxRows
          ? Effect.fail(new OutboxFull({ limit: config.outboxMaxRows }))
          : accept(notification, sinks),
      due: (sink, now, limit) =>
        Effect.map(db.query<OutboxRow>(DUE, [sink, now, limit]), (found) => found.map(toEntry)),
      nextDue: (sink) =>
        Effect.map(
          db.query<{ next_attempt_at: number }>(
            "SELECT next_attempt_at FROM outbox WHERE sink = $1 ORDER BY seq LIMIT 1",
            [sink]
          ),
          (found) => Option.map(Option.fromNullable(found[0]), (row) => row.next_attempt_at)
        ),
      delivered: (seqs) =>
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
          bytes(entry.body),
          Date.now()
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
            bytes(notification.body),
            Date.now()
          ]),
          first
        ),
      replay,
      depth: Effect.map(
        db.query<{ n: number; oldest: number | null }>(
          "SELECT count(*)::bigint AS n, min(received_at) AS oldest FROM outbox"
        ),
        ([row]) => ({ count: row!.n, oldest: Option.map(Option.fromNullable(row!.oldest), (at) => new Date(at)) })
      ),
      probe: Effect.suspend(() =>
        Effect.asVoid(
          db.query("INSERT INTO probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at", [
            Date.now()
          ])
        )
      ),
      waitQueued: (sink) => Queue.take(signal(sink)).pipe(Effect.timeout(POLL), Effect.ignore),
      exclusive: lease.exclusive
    })
  })

/** The store's URL without its password. */
export const shown = (url: Redacted.Redacted<URL>): string => displayUrl(Redacted.value(url))

/** PostgreSQL at `url`, migrated to the current schema before anything else. */
export const layerWith = (config: StoreSettings, url: Redacted.Redacted<URL>) => Layer.scoped(Outbox, make(config, url))
