import { SqlClient, SqlError } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Deferred, Duration, Effect, Layer, Option, Queue, Ref, Schedule } from "effect"
import { mkdir, open } from "node:fs/promises"
import { dirname } from "node:path"
import type { Notification } from "./Notification.js"
import {
  type DeadLetter,
  type DeadLetterReason,
  Outbox,
  type OutboxEntry,
  OutboxFull,
  StoreUnavailable
} from "./Outbox.js"
import { ReceiverConfig, type StoreSettings } from "./ReceiverConfig.js"

const MIGRATION = [
  `CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sink TEXT NOT NULL,
    notification_id TEXT,
    topic TEXT,
    intercom_topic TEXT NOT NULL,
    app_id TEXT,
    received_at INTEGER NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT
  )`,
  "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (sink, next_attempt_at, seq)",
  "CREATE TABLE IF NOT EXISTS seen (notification_id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL) WITHOUT ROWID",
  "CREATE INDEX IF NOT EXISTS seen_at ON seen (seen_at)",
  `CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sink TEXT,
    reason TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    notification_id TEXT,
    topic TEXT,
    intercom_topic TEXT NOT NULL,
    app_id TEXT,
    received_at INTEGER NOT NULL,
    dead_at INTEGER NOT NULL,
    body BLOB NOT NULL,
    replayed_at INTEGER
  )`,
  "CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL)"
]

interface Pending {
  readonly notification: Notification
  readonly sinks: ReadonlyArray<string>
  readonly done: Deferred.Deferred<"accepted" | "duplicate", StoreUnavailable>
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
/** 8 bound values a row: well under SQLite's limit of 32,766 per statement. */
const OUTBOX_ROWS_PER_INSERT = 1000

const unavailable = (error: SqlError.SqlError) =>
  new StoreUnavailable({ message: String((error.cause as Error | undefined)?.message ?? error.message) })

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

/**
 * The outbox in SQLite, in WAL mode. Concurrent accepts share one transaction. What is acknowledged is on disk
 * before the answer, as with `synchronous=FULL`, without blocking the event loop: better-sqlite3 runs on the main
 * thread, so commits run with `synchronous=NORMAL` (written to the WAL, not synced; checkpoints still sync) and the
 * WAL is then fdatasync'ed asynchronously, in the thread pool, before anyone is told.
 */
const make = (config: StoreSettings) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (const pragma of ["synchronous = NORMAL", `busy_timeout = ${config.storeBusyTimeoutMs}`, "foreign_keys = ON"]) {
      yield* sql.unsafe(`PRAGMA ${pragma}`)
    }
    for (const statement of MIGRATION) yield* sql.unsafe(statement)
    yield* sql`INSERT INTO probe (id, at) VALUES (1, ${Date.now()}) ON CONFLICT (id) DO UPDATE SET at = excluded.at`
    const wal = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => open(`${config.storePath}-wal`, "r"),
        catch: (cause) => new SqlError.SqlError({ cause, message: "Failed to open the WAL" })
      }),
      (handle) => Effect.promise(() => handle.close())
    )
    /** Makes every committed transaction durable. */
    const syncWal = Effect.tryPromise({
      try: () => wal.datasync(),
      catch: (cause) => new SqlError.SqlError({ cause, message: "Failed to sync the WAL" })
    })

    const windowMs = Duration.toMillis(config.dedupeWindow)
    const count = yield* Ref.make((yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM outbox`)[0]!.n)
    const signals = new Map<string, Queue.Queue<void>>()
    const signal = (sink: string) => {
      let queue = signals.get(sink)
      if (queue === undefined) {
        queue = Effect.runSync(Queue.sliding<void>(1))
        signals.set(sink, queue)
      }
      return queue
    }

    const insertDeadLetter = (
      fields: Omit<DeadLetterRow, "id">,
      deadAt: number
    ) =>
      sql<DeadLetterRow>`INSERT INTO dead_letters ${
        sql.insert({ ...fields, dead_at: deadAt })
      } RETURNING id, sink, reason, error, attempts, notification_id, topic, intercom_topic, app_id, received_at, body`
        .pipe(
          Effect.map((rows) => toDeadLetter(rows[0]!))
        )

    /**
     * One transaction, two statements for the whole batch: the ids into `seen` (those that come back are new, or
     * last seen before the dedupe window), then the outbox rows of the new ones. An id twice in one batch is new once.
     */
    const commit = (batch: ReadonlyArray<Pending>) =>
      Effect.gen(function*() {
        const now = Date.now()
        const ids = [...new Set(batch.flatMap(({ notification }) => notification.id ?? []))]
        const fresh = new Set<string>()
        if (ids.length > 0) {
          const rows = yield* sql<{ notification_id: string }>`
          INSERT INTO seen ${sql.insert(ids.map((id) => ({ notification_id: id, seen_at: now })))}
          ON CONFLICT (notification_id) DO UPDATE SET seen_at = excluded.seen_at WHERE seen.seen_at < ${now - windowMs}
          RETURNING notification_id`
          for (const row of rows) fresh.add(row.notification_id)
        }
        const results = batch.map(({ notification }): "accepted" | "duplicate" => {
          if (notification.id === null) return "accepted"
          return fresh.delete(notification.id) ? "accepted" : "duplicate"
        })
        const rows = batch.flatMap(({ notification, sinks }, index) =>
          results[index] === "duplicate" ? [] : sinks.map((sink) => ({
            sink,
            notification_id: notification.id,
            topic: notification.topic,
            intercom_topic: notification.intercomTopic,
            app_id: notification.appId,
            received_at: notification.receivedAt.getTime(),
            body: notification.body,
            next_attempt_at: now
          }))
        )
        for (let start = 0; start < rows.length; start += OUTBOX_ROWS_PER_INSERT) {
          yield* sql`INSERT INTO outbox ${sql.insert(rows.slice(start, start + OUTBOX_ROWS_PER_INSERT))}`
        }
        return { results, queued: rows.length }
      }).pipe(sql.withTransaction)

    const pending = yield* Queue.bounded<Pending>(MAX_BATCH * 8)
    yield* Queue.takeBetween(pending, 1, MAX_BATCH).pipe(
      Effect.flatMap((chunk) => {
        const batch = [...chunk]
        return commit(batch).pipe(
          Effect.zipLeft(syncWal),
          Effect.tap(({ queued }) => Ref.update(count, (n) => n + queued)),
          Effect.tap(() =>
            Effect.forEach(new Set(batch.flatMap((item) => item.sinks)), (sink) => Queue.offer(signal(sink), undefined))
          ),
          Effect.matchEffect({
            onFailure: (error) =>
              Effect.forEach(batch, (item) => Deferred.fail(item.done, unavailable(error)), { discard: true }),
            onSuccess: ({ results }) =>
              Effect.forEach(batch, (item, index) => Deferred.succeed(item.done, results[index]!), { discard: true })
          }),
          Effect.uninterruptible
        )
      }),
      Effect.forever,
      Effect.forkScoped
    )

    yield* sql`DELETE FROM seen WHERE seen_at < ${Date.now() - windowMs}`.pipe(
      Effect.zipRight(sql<{ n: number }>`SELECT COUNT(*) AS n FROM outbox`),
      Effect.flatMap((rows) => Ref.set(count, rows[0]!.n)),
      Effect.ignore,
      Effect.repeat(Schedule.spaced(Duration.minutes(1))),
      Effect.forkScoped
    )

    return Outbox.of({
      seen: (id) =>
        sql<{ n: number }>`SELECT 1 AS n FROM seen WHERE notification_id = ${id} AND seen_at >= ${
          Date.now() - windowMs
        }`
          .pipe(Effect.map((rows) => rows.length > 0), Effect.mapError(unavailable)),
      accept: (notification, sinks) =>
        Effect.gen(function*() {
          if (sinks.length > 0 && (yield* Ref.get(count)) >= config.outboxMaxRows) {
            return yield* new OutboxFull({ limit: config.outboxMaxRows })
          }
          const done = yield* Deferred.make<"accepted" | "duplicate", StoreUnavailable>()
          yield* Queue.offer(pending, { notification, sinks, done })
          return yield* Deferred.await(done)
        }),
      due: (sink, now, limit) =>
        sql<OutboxRow>`
        SELECT seq, sink, notification_id, intercom_topic, received_at, body, attempts FROM outbox
        WHERE sink = ${sink} AND next_attempt_at <= ${now} ORDER BY seq LIMIT ${limit}`
          .pipe(Effect.map((rows) => rows.map(toEntry)), Effect.mapError(unavailable)),
      nextDue: (sink) =>
        sql<{ at: number | null }>`SELECT MIN(next_attempt_at) AS at FROM outbox WHERE sink = ${sink}`.pipe(
          Effect.map((rows) => Option.fromNullable(rows[0]?.at)),
          Effect.mapError(unavailable)
        ),
      delivered: (seqs) =>
        seqs.length === 0 ? Effect.void : sql`DELETE FROM outbox WHERE ${sql.in("seq", seqs)}`.pipe(
          Effect.zipRight(Ref.update(count, (n) => n - seqs.length)),
          Effect.mapError(unavailable)
        ),
      retryLater: (seq, attempts, at, error) =>
        sql`UPDATE outbox SET attempts = ${attempts}, next_attempt_at = ${at}, last_error = ${error} WHERE seq = ${seq}`
          .pipe(Effect.asVoid, Effect.mapError(unavailable)),
      bury: (entry, reason, error, attempts) =>
        Effect.gen(function*() {
          const rows = yield* sql<{ topic: string | null; app_id: string | null }>`
          DELETE FROM outbox WHERE seq = ${entry.seq} RETURNING topic, app_id`
          const dead = yield* insertDeadLetter({
            sink: entry.sink,
            reason,
            error,
            attempts,
            notification_id: entry.notificationId,
            topic: rows[0]?.topic ?? null,
            intercom_topic: entry.intercomTopic,
            app_id: rows[0]?.app_id ?? null,
            received_at: entry.receivedAt.getTime(),
            body: entry.body
          } as Omit<DeadLetterRow, "id">, Date.now())
          yield* Ref.update(count, (n) => n - rows.length)
          return dead
        }).pipe(sql.withTransaction, Effect.mapError(unavailable)),
      addDeadLetter: (notification, reason, error) =>
        insertDeadLetter({
          sink: null,
          reason,
          error,
          attempts: 0,
          notification_id: notification.id,
          topic: notification.topic,
          intercom_topic: notification.intercomTopic,
          app_id: notification.appId,
          received_at: notification.receivedAt.getTime(),
          body: notification.body
        } as Omit<DeadLetterRow, "id">, Date.now()).pipe(Effect.zipLeft(syncWal), Effect.mapError(unavailable)),
      replay: (filter) =>
        Effect.gen(function*() {
          const now = Date.now()
          const sinkOverride = Option.getOrNull(filter.sink)
          const conditions = [
            sql`replayed_at IS NULL`,
            Option.isSome(filter.sink) ? sql`(sink = ${filter.sink.value} OR sink IS NULL)` : sql`sink IS NOT NULL`,
            ...Option.toArray(
              Option.map(filter.topic, (topic) => sql`(topic = ${topic} OR intercom_topic = ${topic})`)
            ),
            ...Option.toArray(Option.map(filter.since, (since) => sql`dead_at >= ${since.getTime()}`))
          ]
          const rows = yield* sql<{ id: number; sink: string }>`
          INSERT INTO outbox (sink, notification_id, topic, intercom_topic, app_id, received_at, body, next_attempt_at)
          SELECT COALESCE(${sinkOverride}, sink), notification_id, topic, intercom_topic, app_id, received_at, body, ${now}
          FROM dead_letters WHERE ${sql.and(conditions)} ORDER BY id
          RETURNING seq AS id, sink`
          yield* sql`UPDATE dead_letters SET replayed_at = ${now} WHERE ${sql.and(conditions)}`
          yield* Ref.update(count, (n) => n + rows.length)
          return rows
        }).pipe(
          sql.withTransaction,
          Effect.zipLeft(syncWal),
          Effect.tap((rows) =>
            Effect.forEach(new Set(rows.map((row) => row.sink)), (sink) => Queue.offer(signal(sink), undefined))
          ),
          Effect.map((rows) => rows.length),
          Effect.mapError(unavailable)
        ),
      depth: sql<{ n: number; oldest: number | null }>`SELECT COUNT(*) AS n, MIN(received_at) AS oldest FROM outbox`
        .pipe(
          Effect.map((rows) => ({
            count: rows[0]!.n,
            oldest: Option.map(Option.fromNullable(rows[0]!.oldest), (at) => new Date(at))
          })),
          Effect.mapError(unavailable)
        ),
      probe: sql`INSERT INTO probe (id, at) VALUES (1, ${Date.now()}) ON CONFLICT (id) DO UPDATE SET at = excluded.at`
        .pipe(
          Effect.zipRight(syncWal),
          Effect.mapError(unavailable)
        ),
      waitQueued: (sink) => Queue.take(signal(sink))
    })
  })

/** SQLite at `storePath`, its folder created when missing. */
export const layerWith = (config: StoreSettings) =>
  Layer.scoped(Outbox, make(config)).pipe(
    Layer.provide(
      Layer.unwrapEffect(
        Effect.tryPromise({
          try: () => mkdir(dirname(config.storePath), { recursive: true }),
          catch: (error) =>
            new StoreUnavailable({ message: `cannot create the folder of ${config.storePath}: ${String(error)}` })
        }).pipe(Effect.as(SqliteClient.layer({ filename: config.storePath })))
      )
    )
  )

/** SQLite at `STORE_PATH` (default `$DATA_DIR/receiver.db`). */
export const layer = Layer.unwrapEffect(Effect.map(ReceiverConfig, layerWith))
