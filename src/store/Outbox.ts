import { Context, Data, type Effect, type Option } from "effect"
import type { MirrorChange } from "../mirror/Rows.js"
import type { NotificationBytes } from "../pipeline/Notification.js"
import type { DeliveryShare } from "./DeliveryShare.js"
import type { MirrorCounts, MirrorRefused } from "./Mirror.js"

/**
 * The store cannot take or give data right now (disk full, locked past its deadline, closed). `code` is PostgreSQL's
 * SQLSTATE when the server answered with an error.
 */
export class StoreUnavailable extends Data.TaggedError("StoreUnavailable")<{
  readonly message: string
  readonly code?: string
}> {
  /** The server refused the values of the statement (a data exception, a limit), not the statement as such. */
  get refusesValues(): boolean {
    return this.code !== undefined && /^(22|23|54)/.test(this.code)
  }
}

/** The store refuses this notification's values, whatever it is sent: the client's mistake (400), never a batch's. */
export class StoreRefused extends Data.TaggedError("StoreRefused")<{ readonly message: string }> {}

/** The outbox holds `OUTBOX_MAX_ROWS` undelivered notifications: refuse new ones until it drains. */
export class OutboxFull extends Data.TaggedError("OutboxFull")<{ readonly limit: number }> {}

/** One notification waiting for one sink. */
export interface OutboxEntry {
  readonly seq: number
  readonly sink: string
  /** Deliveries of one key reach a sink in receive order (see `deliveryKey`). */
  readonly key: string
  /** The bucket of the key, which instances sharing a store lease (always 0 on SQLite). */
  readonly bucket: number
  readonly notificationId: string | null
  readonly intercomTopic: string
  readonly receivedAt: Date
  readonly body: Uint8Array
  readonly attempts: number
}

/**
 * Which deliveries `due` hands out. `key`: of each key, its deliveries from its oldest on, up to the first one waiting
 * for its retry, none of the keys in `busy` (in flight). `receive`: the sink's deliveries from its oldest on, up to the
 * first one waiting, whatever their keys (strict receive order).
 */
export interface DueQuery {
  readonly now: number
  readonly limit: number
  readonly order: "key" | "receive"
  readonly busy: ReadonlyArray<string>
  /** Only deliveries of these buckets; undefined: of every bucket. */
  readonly buckets?: ReadonlyArray<number> | undefined
}

export type DeadLetterReason = "schema_mismatch" | "no_route" | "rejected" | "exhausted" | "expired"

export interface DeadLetter {
  readonly id: number
  readonly sink: string | null
  readonly reason: DeadLetterReason
  readonly error: string
  readonly attempts: number
  readonly notificationId: string | null
  readonly topic: string | null
  readonly intercomTopic: string
  readonly appId: string | null
  readonly receivedAt: Date
  readonly body: Uint8Array
}

/** Deliveries stored before delivery keys existed share this one: they stay in receive order among themselves. */
export const LEGACY_KEY = "legacy"

export interface ReplayFilter {
  readonly sink: Option.Option<string>
  readonly topic: Option.Option<string>
  readonly since: Option.Option<Date>
  /** Only these dead letters (by id), when given. */
  readonly ids?: ReadonlyArray<number> | undefined
}

/** A dead letter still waiting in the store (never replayed), as `npm run replay -- --list` shows it. */
export interface WaitingDeadLetter {
  readonly id: number
  readonly deadAt: Date
  readonly sink: string | null
  readonly reason: DeadLetterReason
  readonly topic: string | null
  readonly intercomTopic: string
  readonly notificationId: string | null
  readonly error: string
}

/** How many dead letters of a sink (null: none) and reason are still waiting. */
export interface DeadLetterCount {
  readonly sink: string | null
  readonly reason: DeadLetterReason
  readonly count: number
}

/**
 * The durable store behind the 2xx: dedupe memory, the outbox of deliveries still to make, and dead letters.
 * Two implementations: the embedded SQLite of one process (`SqliteOutbox`), and PostgreSQL shared by any number of
 * processes (`PostgresOutbox`).
 */
export class Outbox extends Context.Tag("Outbox")<Outbox, {
  /** True when a notification with this id was accepted within the dedupe window. */
  readonly seen: (notificationId: string) => Effect.Effect<boolean, StoreUnavailable>
  /**
   * In one transaction: remembers the id (when it has one), queues a delivery per sink, and makes the mirror's
   * `changes`, so a notification is applied to the mirror tables exactly once. "duplicate" when the id was accepted
   * meanwhile (nothing queued, nothing changed). Concurrent calls share a commit; values the store refuses fail only
   * the call that brought them (`StoreRefused`).
   */
  readonly accept: (
    notification: NotificationBytes,
    sinks: ReadonlyArray<string>,
    changes?: ReadonlyArray<MirrorChange>
  ) => Effect.Effect<"accepted" | "duplicate", StoreUnavailable | StoreRefused | OutboxFull>
  /**
   * Makes the mirror's changes of a notification delivered from the outbox (a replay, or changes the store refused
   * when the notification was accepted), in one transaction: all or none.
   */
  readonly applyMirror: (
    changes: ReadonlyArray<MirrorChange>
  ) => Effect.Effect<void, StoreUnavailable | MirrorRefused>
  /** Writes to the mirror tables since start, by table and outcome. */
  readonly mirrorCounts: MirrorCounts
  /** Deliveries of `sink` due at `query.now`, in receive order, at most `query.limit` (see `DueQuery`). */
  readonly due: (sink: string, query: DueQuery) => Effect.Effect<ReadonlyArray<OutboxEntry>, StoreUnavailable>
  /** The earliest time after `now` at which a delivery of `sink` waiting for its retry falls due, if any waits. */
  readonly nextDue: (sink: string, now: number) => Effect.Effect<Option.Option<number>, StoreUnavailable>
  /** Removes deliveries `sink` made. */
  readonly delivered: (sink: string, seqs: ReadonlyArray<number>) => Effect.Effect<void, StoreUnavailable>
  readonly retryLater: (
    seq: number,
    attempts: number,
    at: number,
    error: string
  ) => Effect.Effect<void, StoreUnavailable>
  /** Moves a delivery to the dead letters. */
  readonly bury: (
    entry: OutboxEntry,
    reason: DeadLetterReason,
    error: string,
    attempts: number
  ) => Effect.Effect<DeadLetter, StoreUnavailable>
  /** Adds a dead letter for a notification that never reached the outbox. */
  readonly addDeadLetter: (
    notification: NotificationBytes,
    reason: DeadLetterReason,
    error: string
  ) => Effect.Effect<DeadLetter, StoreUnavailable>
  /**
   * Removes the matching dead letters still waiting from the store, for good (the lines of `DEAD_LETTER_PATH` stay);
   * returns how many. Without a sink, those without one too.
   */
  readonly discard: (filter: ReplayFilter) => Effect.Effect<number, StoreUnavailable>
  /** Puts matching dead letters back into the outbox (to `sink` when given); returns how many. */
  readonly replay: (filter: ReplayFilter) => Effect.Effect<number, StoreUnavailable>
  /**
   * The dead letters not yet replayed that match `filter`, oldest first, at most `limit`; nothing changes. The filter
   * reads as `replay`'s, except that without a sink the dead letters that have none are listed too.
   */
  readonly deadLetters: (
    filter: ReplayFilter,
    limit: number
  ) => Effect.Effect<ReadonlyArray<WaitingDeadLetter>, StoreUnavailable>
  /** The dead letters not yet replayed, counted by sink (null: none) and reason, read from an index. */
  readonly deadLetterCounts: Effect.Effect<ReadonlyArray<DeadLetterCount>, StoreUnavailable>
  readonly depth: Effect.Effect<{ readonly count: number; readonly oldest: Option.Option<Date> }, StoreUnavailable>
  /** Deliveries waiting per sink, with the receive time (epoch milliseconds) of each sink's oldest. */
  readonly depthBySink: Effect.Effect<
    ReadonlyArray<{ readonly sink: string; readonly count: number; readonly oldest: number }>,
    StoreUnavailable
  >
  /** Fails unless the store can commit a write now. */
  readonly probe: Effect.Effect<void, StoreUnavailable>
  /** Completes when deliveries for `sink` were queued by this process (other writers are found by polling). */
  readonly waitQueued: (sink: string) => Effect.Effect<void>
  /**
   * Runs `work` (which never ends) with the share of `sink`'s deliveries this process may make, whatever the number
   * of processes sharing the store: in `key` order, the buckets it leases (kept up to date: see `DeliveryShare`); in
   * strict `receive` order, all of them while it holds the sink's one lease. When a lease is lost, `work` is interrupted
   * and runs again with what this process can take.
   */
  readonly deliveries: <E, R>(
    sink: string,
    order: "key" | "receive",
    work: (share: DeliveryShare) => Effect.Effect<never, E, R>
  ) => Effect.Effect<never, E, R>
}>() {}
