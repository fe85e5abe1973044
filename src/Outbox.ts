import { Context, Data, type Effect, type Option } from "effect"
import type { Notification } from "./Notification.js"

/** The store cannot take or give data right now (disk full, locked past its deadline, closed). */
export class StoreUnavailable extends Data.TaggedError("StoreUnavailable")<{ readonly message: string }> {}

/** The outbox holds `OUTBOX_MAX_ROWS` undelivered notifications: refuse new ones until it drains. */
export class OutboxFull extends Data.TaggedError("OutboxFull")<{ readonly limit: number }> {}

/** One notification waiting for one sink. */
export interface OutboxEntry {
  readonly seq: number
  readonly sink: string
  readonly notificationId: string | null
  readonly intercomTopic: string
  readonly receivedAt: Date
  readonly body: Uint8Array
  readonly attempts: number
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

export interface ReplayFilter {
  readonly sink: Option.Option<string>
  readonly topic: Option.Option<string>
  readonly since: Option.Option<Date>
}

/**
 * The durable store behind the 2xx: dedupe memory, the outbox of deliveries still to make, and dead letters.
 * SQLite implements it (`SqliteOutbox`); a shared Postgres can implement the same interface.
 */
export class Outbox extends Context.Tag("Outbox")<Outbox, {
  /** True when a notification with this id was accepted within the dedupe window. */
  readonly seen: (notificationId: string) => Effect.Effect<boolean, StoreUnavailable>
  /**
   * In one transaction: remembers the id (when it has one) and queues a delivery per sink. "duplicate" when the id
   * was accepted meanwhile. Concurrent calls share a commit.
   */
  readonly accept: (
    notification: Notification,
    sinks: ReadonlyArray<string>
  ) => Effect.Effect<"accepted" | "duplicate", StoreUnavailable | OutboxFull>
  /**
   * Deliveries of `sink` due at `now`, in receive order, starting with the oldest one: none while that one waits for
   * its retry, and none behind a later one that waits.
   */
  readonly due: (
    sink: string,
    now: number,
    limit: number
  ) => Effect.Effect<ReadonlyArray<OutboxEntry>, StoreUnavailable>
  /** When the oldest delivery of `sink` falls due (the ones behind it wait for it), if any is queued. */
  readonly nextDue: (sink: string) => Effect.Effect<Option.Option<number>, StoreUnavailable>
  readonly delivered: (seqs: ReadonlyArray<number>) => Effect.Effect<void, StoreUnavailable>
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
    notification: Notification,
    reason: DeadLetterReason,
    error: string
  ) => Effect.Effect<DeadLetter, StoreUnavailable>
  /** Puts matching dead letters back into the outbox (to `sink` when given); returns how many. */
  readonly replay: (filter: ReplayFilter) => Effect.Effect<number, StoreUnavailable>
  readonly depth: Effect.Effect<{ readonly count: number; readonly oldest: Option.Option<Date> }, StoreUnavailable>
  /** Fails unless the store can commit a write now. */
  readonly probe: Effect.Effect<void, StoreUnavailable>
  /** Completes when deliveries for `sink` were queued by this process (other writers are found by polling). */
  readonly waitQueued: (sink: string) => Effect.Effect<void>
}>() {}
