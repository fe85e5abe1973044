import Database from "better-sqlite3"
import { Context, Duration, Effect, Either, Layer, Option, Schedule } from "effect"
import { mkdirSync } from "node:fs"
import { open } from "node:fs/promises"
import { dirname } from "node:path"
import type { StoreSettings } from "../config/ReceiverConfig.js"
import type { MirrorChange } from "../mirror/Rows.js"
import { asBuffer, type NotificationBytes } from "../pipeline/Notification.js"
import { DataSync } from "./DataSync.js"
import { DeliveryShare } from "./DeliveryShare.js"
import { MIRROR_SINK, MirrorCounts, type MirrorOutcome, MirrorRefused } from "./Mirror.js"
import { NotificationLogStore } from "./NotificationLog.js"
import {
  type DeadLetterCount,
  LEGACY_KEY,
  Outbox,
  type OutboxEntry,
  OutboxFull,
  type ReplayFilter,
  StoreUnavailable
} from "./Outbox.js"
import { queuedSignals } from "./QueuedSignals.js"
import { ReconcileStore } from "./Reconcile.js"
import { SinkCounts } from "./SinkCounts.js"
import * as SqliteLog from "./SqliteLog.js"
import { DEAD_LETTERS_BY_NOTIFICATION } from "./SqliteLog.js"
import { MIRROR_MIGRATION, prepareMirror } from "./SqliteMirror.js"
import * as SqliteReconcile from "./SqliteReconcile.js"
import { RECONCILE_MIGRATION } from "./SqliteReconcile.js"
import { SEEN_MIGRATION, seenIds } from "./SqliteSeen.js"
import {
  type DeadLetterRow,
  type OutboxRow,
  toDeadLetter,
  toEntry,
  toWaiting,
  WAITING_COLUMNS,
  type WaitingRow
} from "./StoredRows.js"
import { holdStoreLock } from "./StoreLock.js"

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
  // Deliveries are read per sink from the oldest on, never by due time (that let later ones overtake a waiting head).
  "CREATE INDEX IF NOT EXISTS outbox_order ON outbox (sink, seq)",
  "DROP INDEX IF EXISTS outbox_due",
  ...SEEN_MIGRATION,
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

/** Columns added since the tables were first released: (table, column, definition). */
const ADDED_COLUMNS = [
  ["outbox", "delivery_key", `TEXT NOT NULL DEFAULT '${LEGACY_KEY}'`],
  ["dead_letters", "delivery_key", "TEXT"]
] as const

/** Finds, for a row, a delivery of its key that waits for its retry (a key's queue is read up to that one). */
/** The dead letters still waiting, by sink and reason: what the console's overview counts. */
const WAITING_DEAD_LETTERS_INDEX =
  "CREATE INDEX IF NOT EXISTS dead_letters_waiting ON dead_letters (sink, reason) WHERE replayed_at IS NULL"

const KEY_INDEX = "CREATE INDEX IF NOT EXISTS outbox_key_waiting ON outbox (sink, delivery_key, next_attempt_at)"

const addColumns = (db: Database.Database) => {
  for (const [table, column, definition] of ADDED_COLUMNS) {
    const columns = db.prepare<[], { name: string }>(`PRAGMA table_info(${table})`).all()
    if (!columns.some((found) => found.name === column)) {
      db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`)
    }
  }
  db.exec(KEY_INDEX)
  db.exec(WAITING_DEAD_LETTERS_INDEX)
}

const COLUMNS = "seq, sink, delivery_key, 0 AS bucket, notification_id, intercom_topic, received_at, body, attempts"

type Accepted = "accepted" | "duplicate"

interface Pending {
  readonly notification: NotificationBytes
  readonly sinks: ReadonlyArray<string>
  readonly changes: ReadonlyArray<MirrorChange>
  readonly done: (result: Effect.Effect<Accepted, StoreUnavailable>) => void
}

interface SqliteOutboxRow extends OutboxRow {
  readonly next_attempt_at: number
}

const MAX_BATCH = 512

const notSeen = Effect.succeed(false)

const unavailable = (error: unknown) =>
  new StoreUnavailable({ message: error instanceof Error ? error.message : String(error) })

/** Runs synchronous store work, a failure becoming `StoreUnavailable`. */
const attempt = <A>(work: () => A): Effect.Effect<A, StoreUnavailable> => Effect.try({ try: work, catch: unavailable })

const openDatabase = (config: StoreSettings) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const db = new Database(config.storePath, { timeout: config.storeBusyTimeoutMs })
        for (const pragma of ["journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"]) db.pragma(pragma)
        for (
          const statement of [...MIGRATION, ...MIRROR_MIGRATION, ...RECONCILE_MIGRATION, DEAD_LETTERS_BY_NOTIFICATION]
        ) {
          db.exec(statement)
        }
        addColumns(db)
        return db
      },
      catch: (error) => new StoreUnavailable({ message: `cannot open ${config.storePath}: ${String(error)}` })
    }),
    (db) => Effect.sync(() => db.close())
  )

/**
 * The outbox in SQLite, in WAL mode, through better-sqlite3: synchronous calls on the main thread, each one short,
 * wrapped in `Effect.try`. Concurrent accepts share one transaction. Outbox rows are on disk before the answer, as
 * with `synchronous=FULL`, without blocking the event loop: commits run with `synchronous=NORMAL` (written to the WAL,
 * not synced; checkpoints still sync) and the WAL is then fdatasync'ed in the thread pool before anyone is told. A
 * dedupe id alone is answered once committed (see `flush`).
 */
const make = (config: StoreSettings, role: StoreRole) =>
  Effect.gen(function*() {
    yield* Effect.try({
      try: () => mkdirSync(dirname(config.storePath), { recursive: true }),
      catch: (error) =>
        new StoreUnavailable({ message: `cannot create the folder of ${config.storePath}: ${String(error)}` })
    })
    if (role === "service") yield* holdStoreLock(config.storePath)
    const db = yield* openDatabase(config)
    const datasync = yield* DataSync

    const statements = {
      deadLetterCounts: db.prepare<[], DeadLetterCount>(
        "SELECT sink, reason, count(*) AS count FROM dead_letters WHERE replayed_at IS NULL GROUP BY sink, reason"
      ),
      queue: db.prepare(
        `INSERT INTO outbox
        (sink, delivery_key, notification_id, topic, intercom_topic, app_id, received_at, body, next_attempt_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
      ),
      queued: db.prepare<[string], SqliteOutboxRow>(
        `SELECT ${COLUMNS}, next_attempt_at FROM outbox WHERE sink = ? ORDER BY seq`
      ),
      dueByKey: db.prepare<[{ sink: string; now: number; busy: string; limit: number }], OutboxRow>(
        `SELECT ${COLUMNS} FROM outbox AS o
        WHERE sink = @sink AND next_attempt_at <= @now AND delivery_key NOT IN (SELECT value FROM json_each(@busy))
        AND NOT EXISTS (
          SELECT 1 FROM outbox AS w
          WHERE w.sink = @sink AND w.delivery_key = o.delivery_key AND w.next_attempt_at > @now AND w.seq < o.seq
        )
        ORDER BY seq LIMIT @limit`
      ),
      nextDue: db.prepare<[string, number], number | null>(
        "SELECT min(next_attempt_at) FROM outbox WHERE sink = ? AND next_attempt_at > ?"
      ).pluck(),
      delete: db.prepare<[number]>("DELETE FROM outbox WHERE seq = ?"),
      retryLater: db.prepare<[number, number, string, number]>(
        "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE seq = ?"
      ),
      take: db.prepare<[number], { topic: string | null; app_id: string | null }>(
        "DELETE FROM outbox WHERE seq = ? RETURNING topic, app_id"
      ),
      deadLetter: db.prepare<Array<unknown>, DeadLetterRow>(
        `INSERT INTO dead_letters
        (sink, reason, error, attempts, notification_id, topic, intercom_topic, app_id, received_at, body, dead_at,
        delivery_key)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        RETURNING id, sink, reason, error, attempts, notification_id, topic, intercom_topic, app_id, received_at, body`
      ),
      countBySink: db.prepare<[], { sink: string; count: number }>(
        "SELECT sink, COUNT(*) AS count FROM outbox GROUP BY sink"
      ),
      headReceivedAt: db.prepare<[string], number>(
        "SELECT received_at FROM outbox WHERE sink = ? ORDER BY seq LIMIT 1"
      ).pluck(),
      probe: db.prepare<[number]>(
        "INSERT INTO probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at"
      )
    }

    // A first write creates the WAL file, which is opened to be synced.
    statements.probe.run(Date.now())
    const walPath = `${config.storePath}-wal`
    const wal = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => open(walPath, "r"), catch: unavailable }),
      (handle) => Effect.promise(() => handle.close())
    )
    /** Makes every committed transaction durable. */
    const syncWal = Effect.tryPromise({ try: () => datasync(walPath, wal), catch: unavailable })

    const windowMs = Duration.toMillis(config.dedupeWindow)
    const seen = yield* attempt(() => seenIds(db, windowMs, Date.now()))
    const mirror = prepareMirror(db)
    const mirrorCounts = new MirrorCounts()
    // Counted once a minute and kept up to date in between: counting 100,000 rows holds the thread for 75-100 ms.
    const rows = new SinkCounts()
    rows.reset(statements.countBySink.all())
    const { waitQueued, wake } = queuedSignals()

    /** Claims each new id and queues the new notifications for their sinks; an id twice is new once. */
    const commit = db.transaction((batch: ReadonlyArray<Pending>, now: number) => {
      let queued = 0
      let mirrorQueued = 0
      const mirrored: Array<MirrorOutcome> = []
      const seqs: Array<number> = []
      const claims: Array<number | undefined> = []
      const results = batch.map(({ changes, notification, sinks }): Accepted => {
        const id = notification.id
        const claim = id === null ? undefined : seen.claim(id, now, now - windowMs)
        claims.push(claim)
        if (id !== null && claim === undefined) return "duplicate"
        // Changes the store refuses are undone alone, and the notification queued for the mirror's dead letter.
        const applied = mirror(changes)
        if (Either.isRight(applied)) mirrored.push(...applied.right)
        else mirrorQueued++
        for (const sink of Either.isRight(applied) ? sinks : [...sinks, MIRROR_SINK]) {
          const { lastInsertRowid } = statements.queue.run(
            sink,
            notification.deliveryKey,
            id,
            notification.topic,
            notification.intercomTopic,
            notification.appId,
            notification.receivedAt.getTime(),
            asBuffer(notification.body),
            now
          )
          seqs.push(Number(lastInsertRowid))
          queued++
        }
        return "accepted"
      })
      return { results, claims, queued, mirrorQueued, mirrored, seqs }
    })

    /**
     * A batch whose WAL sync failed was answered 503, but its rows are committed: its ids would make Intercom's retry a
     * `duplicate` of something that may never reach the disk. They are taken back, ids and deliveries, so the retry is
     * accepted again (its mirror changes, if any, are applied again by the same version rules).
     */
    const takeBack = db.transaction((claims: ReadonlyArray<number>, seqs: ReadonlyArray<number>) => {
      seen.unclaim(claims)
      for (const seq of seqs) statements.delete.run(seq)
    })

    // Accepts arriving in the same turn of the event loop, or while a batch is being synced, form one batch (group
    // commit). A notification queued for outbox sinks is answered once the WAL is synced. One that only records its
    // id (its sinks were inline and already have it on disk) is answered once committed: a power cut right after
    // could forget the id, so a redelivery would be taken again, but nothing acknowledged can be lost, and the answer
    // does not wait for a second fsync.
    const waiting: Array<Pending> = []
    let syncing: Promise<void> | undefined
    let scheduled = false
    let closed = false
    const flush = (): void => {
      if (syncing !== undefined || waiting.length === 0) return
      const batch = waiting.splice(0, MAX_BATCH)
      let outcome: ReturnType<typeof commit>
      try {
        outcome = commit(batch, Date.now())
      } catch (error) {
        for (const pending of batch) pending.done(Effect.fail(unavailable(error)))
        return flush()
      }
      const claims: Array<number> = []
      const queued = batch.filter((pending, index) => {
        const result = outcome.results[index]!
        if (result === "accepted" && (pending.sinks.length > 0 || pending.changes.length > 0)) {
          const claim = outcome.claims[index]
          if (claim !== undefined) claims.push(claim)
          return true
        }
        pending.done(Effect.succeed(result))
        return false
      })
      mirrorCounts.record(outcome.mirrored)
      if (queued.length === 0) return flush()
      // Counted once committed: a worker may deliver a row before its sync completes.
      const counted = queued.flatMap((pending) => pending.sinks)
      for (let n = 0; n < outcome.mirrorQueued; n++) counted.push(MIRROR_SINK)
      for (const sink of counted) rows.add(sink)
      syncing = datasync(walPath, wal).then(
        () => {
          wake(counted)
          for (const pending of queued) pending.done(Effect.succeed("accepted"))
        },
        (error) => {
          try {
            takeBack(claims, outcome.seqs)
            for (const sink of counted) rows.remove(sink)
          } catch {
            // The store is failing as a whole; /readyz says so, and nothing here was acknowledged.
          }
          for (const pending of queued) pending.done(Effect.fail(unavailable(error)))
        }
      ).finally(() => {
        syncing = undefined
        flush()
      })
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
        while (syncing !== undefined) await syncing
      })
    )

    yield* attempt(() => {
      seen.prune(Date.now() - windowMs)
      rows.reset(statements.countBySink.all())
    }).pipe(
      Effect.ignore,
      Effect.repeat(Schedule.spaced(Duration.minutes(1))),
      Effect.forkScoped
    )

    const insertDeadLetter = (fields: Omit<DeadLetterRow, "id"> & { readonly delivery_key: string }) =>
      toDeadLetter(
        statements.deadLetter.get(
          fields.sink,
          fields.reason,
          fields.error,
          fields.attempts,
          fields.notification_id,
          fields.topic,
          fields.intercom_topic,
          fields.app_id,
          fields.received_at,
          asBuffer(fields.body),
          Date.now(),
          fields.delivery_key
        )!
      )

    const accept = (
      notification: NotificationBytes,
      sinks: ReadonlyArray<string>,
      changes: ReadonlyArray<MirrorChange>
    ) =>
      Effect.async<Accepted, StoreUnavailable>((resume) => {
        if (closed) return resume(Effect.fail(new StoreUnavailable({ message: "the store is closed" })))
        waiting.push({ notification, sinks, changes, done: resume })
        schedule()
      })

    /** Each sink's count, and its head's receive time (close to its oldest: replayed rows join the end). */
    const depthBySink = attempt(() =>
      rows.entries().flatMap(({ count, sink }) => {
        const oldest = statements.headReceivedAt.get(sink)
        return oldest === undefined ? [] : [{ sink, count, oldest }]
      })
    )

    const outbox = Outbox.of({
      seen: (id) => seen.mayHave(id) ? attempt(() => seen.has(id, Date.now() - windowMs)) : notSeen,
      accept: (notification, sinks, changes = []) =>
        sinks.length > 0 && rows.total >= config.outboxMaxRows
          ? Effect.fail(new OutboxFull({ limit: config.outboxMaxRows }))
          : accept(notification, sinks, changes),
      applyMirror: (changes) =>
        attempt(() => mirror(changes)).pipe(
          Effect.flatMap((applied): Effect.Effect<void, StoreUnavailable | MirrorRefused> =>
            Either.isLeft(applied)
              ? Effect.fail(new MirrorRefused({ message: applied.left }))
              : Effect.zipRight(Effect.sync(() => mirrorCounts.record(applied.right)), syncWal)
          )
        ),
      mirrorCounts,
      due: (sink, { busy, limit, now, order }) =>
        attempt(() => {
          if (order === "key") {
            return statements.dueByKey.all({ sink, now, busy: JSON.stringify(busy), limit }).map(toEntry)
          }
          // From the head up to the first delivery still waiting for its retry: nothing overtakes a waiting head. The
          // rows are read one by one, so a round reads at most `limit + 1` of them, however long the queue.
          const entries: Array<OutboxEntry> = []
          for (const row of statements.queued.iterate(sink)) {
            if (row.next_attempt_at > now || entries.length === limit) break
            entries.push(toEntry(row))
          }
          return entries
        }),
      nextDue: (sink, now) => attempt(() => Option.fromNullable(statements.nextDue.get(sink, now))),
      delivered: (sink, seqs) =>
        attempt(() => {
          db.transaction(() => seqs.forEach((seq) => statements.delete.run(seq)))()
          rows.remove(sink, seqs.length)
        }),
      retryLater: (seq, attempts, at, error) => attempt(() => void statements.retryLater.run(attempts, at, error, seq)),
      bury: (entry, reason, error, attempts) =>
        attempt(() =>
          db.transaction(() => {
            const taken = statements.take.all(entry.seq)
            rows.remove(entry.sink, taken.length)
            return insertDeadLetter({
              sink: entry.sink,
              reason,
              error,
              attempts,
              notification_id: entry.notificationId,
              delivery_key: entry.key,
              topic: taken[0]?.topic ?? null,
              intercom_topic: entry.intercomTopic,
              app_id: taken[0]?.app_id ?? null,
              received_at: entry.receivedAt.getTime(),
              body: entry.body
            })
          })()
        ),
      addDeadLetter: (notification, reason, error) =>
        attempt(() =>
          insertDeadLetter({
            sink: null,
            reason,
            error,
            attempts: 0,
            notification_id: notification.id,
            delivery_key: notification.deliveryKey,
            topic: notification.topic,
            intercom_topic: notification.intercomTopic,
            app_id: notification.appId,
            received_at: notification.receivedAt.getTime(),
            body: notification.body
          })
        ).pipe(Effect.zipLeft(syncWal)),
      replay: (filter) =>
        attempt(() => {
          const now = Date.now()
          const { params, where } = deadLetterFilter(filter, "with a sink")
          return db.transaction(() => {
            const replayed = db.prepare<Array<unknown>, { sink: string }>(
              `INSERT INTO outbox
              (sink, delivery_key, notification_id, topic, intercom_topic, app_id, received_at, body, next_attempt_at)
              SELECT COALESCE(?, sink), COALESCE(delivery_key, '${LEGACY_KEY}'), notification_id, topic, intercom_topic,
              app_id, received_at, body, ?
              FROM dead_letters WHERE ${where} ORDER BY id RETURNING sink`
            ).all(Option.getOrNull(filter.sink), now, ...params)
            db.prepare(`UPDATE dead_letters SET replayed_at = ? WHERE ${where}`).run(now, ...params)
            for (const row of replayed) rows.add(row.sink)
            return replayed.map((row) => row.sink)
          })()
        }).pipe(
          Effect.zipLeft(syncWal),
          Effect.tap((sinks) => Effect.sync(() => wake(sinks))),
          Effect.map((sinks) => sinks.length)
        ),
      deadLetters: (filter, limit) =>
        attempt(() => {
          const { params, where } = deadLetterFilter(filter, "any")
          return db.prepare<Array<unknown>, WaitingRow>(
            `SELECT ${WAITING_COLUMNS} FROM dead_letters WHERE ${where} ORDER BY id LIMIT ?`
          ).all(...params, limit).map(toWaiting)
        }),
      discard: (filter) =>
        attempt(() => {
          const { params, where } = deadLetterFilter(filter, "any")
          return db.prepare(`DELETE FROM dead_letters WHERE ${where}`).run(...params).changes
        }).pipe(Effect.zipLeft(syncWal)),
      deadLetterCounts: attempt(() => statements.deadLetterCounts.all()),
      depth: Effect.map(depthBySink, (bySink) => ({
        count: rows.total,
        oldest: bySink.length === 0 ? Option.none() : Option.some(new Date(Math.min(...bySink.map((s) => s.oldest))))
      })),
      depthBySink,
      probe: attempt(() => void statements.probe.run(Date.now())).pipe(Effect.zipRight(syncWal)),
      waitQueued,
      // One process owns an SQLite store: its one worker per sink is the only one.
      deliveries: (_sink, _order, work) => work(DeliveryShare.all())
    })
    return {
      outbox,
      reconcile: SqliteReconcile.make(db, mirror, mirrorCounts, syncWal),
      log: yield* SqliteLog.make(db, config.storePath, config.storeBusyTimeoutMs)
    }
  })

/**
 * The dead letters a replay filter picks, never replayed ones: those of its sink and those without one (which a replay
 * sends to it); without a sink, those that have one, or `any`.
 */
const deadLetterFilter = (filter: ReplayFilter, sinkless: "with a sink" | "any") => {
  const conditions = ["replayed_at IS NULL"]
  const params: Array<string | number> = []
  if (Option.isSome(filter.sink)) {
    conditions.push("(sink = ? OR sink IS NULL)")
    params.push(filter.sink.value)
  } else if (sinkless === "with a sink") conditions.push("sink IS NOT NULL")
  if (Option.isSome(filter.topic)) {
    conditions.push("(topic = ? OR intercom_topic = ?)")
    params.push(filter.topic.value, filter.topic.value)
  }
  if (Option.isSome(filter.since)) {
    conditions.push("dead_at >= ?")
    params.push(filter.since.value.getTime())
  }
  if (filter.ids !== undefined) {
    conditions.push("id IN (SELECT value FROM json_each(?))")
    params.push(JSON.stringify(filter.ids))
  }
  return { where: conditions.join(" AND "), params }
}

/**
 * Who opens the store: the `service` (one at a time, see `holdStoreLock`) or a `tool` such as `npm run replay`, which
 * may run beside it.
 */
export type StoreRole = "service" | "tool"

/** SQLite at `storePath`, its folder created when missing. */
export const layerWith = (config: StoreSettings, role: StoreRole) =>
  Layer.scopedContext(
    Effect.map(make(config, role), ({ log, outbox, reconcile }) =>
      Context.make(Outbox, outbox).pipe(
        Context.add(ReconcileStore, reconcile),
        Context.add(NotificationLogStore, log)
      ))
  )
