import { Context, type Effect, type Option } from "effect"
import type { NotificationBytes } from "../pipeline/Notification.js"
import type { DeadLetterReason, StoreUnavailable } from "./Outbox.js"

/**
 * What the webhook made of a request, as the console counts it per minute: `accepted` (schema matched), `mismatch`
 * (accepted, not matching its topic's schema), `duplicate`, `refused` (a 4xx: signature, body, malformed) and
 * `failed` (a 5xx: Intercom sends it again).
 */
export type TrafficOutcome = "accepted" | "mismatch" | "duplicate" | "refused" | "failed"

export const trafficOutcomes: ReadonlyArray<TrafficOutcome> = ["accepted", "mismatch", "duplicate", "refused", "failed"]

/** Requests of one minute (epoch milliseconds of its start) with one outcome. */
export interface MinuteCount {
  readonly minute: number
  readonly outcome: TrafficOutcome
  readonly count: number
}

/** `accepted`: taken for its sinks; `no_route`: a dead letter from the start, no rule of ROUTES matching its topic. */
export type LoggedOutcome = "accepted" | "no_route"

/** A notification to keep in the log: one the webhook took (a duplicate is counted, not logged again). */
export interface LogEntry {
  readonly notification: NotificationBytes
  readonly outcome: LoggedOutcome
  /** The sinks it was routed to (none for `no_route`). */
  readonly sinks: ReadonlyArray<string>
}

/** A notification in the log, without its body. */
export interface LoggedNotification {
  /** The log's own id: the console's `/notifications/<seq>`. */
  readonly seq: number
  readonly notificationId: string | null
  readonly topic: string | null
  readonly intercomTopic: string
  readonly appId: string | null
  readonly receivedAt: Date
  /** What it is about: its delivery key (`contact:<id>`, `conversation:<id>`, ...). */
  readonly entity: string
  readonly outcome: LoggedOutcome
  /** Why it does not match its topic's schema; null when it does (or has no schema). */
  readonly schemaMismatch: string | null
  readonly sinks: ReadonlyArray<string>
}

export interface LoggedNotificationWithBody extends LoggedNotification {
  /** The body exactly as received. */
  readonly body: Uint8Array
}

/**
 * Which notifications to list, newest first. Every condition given must hold; `anyOf` matches a notification whose id
 * is one of `ids` or whose entity is one of `entities`.
 */
export interface LogSearch {
  readonly anyOf?: { readonly ids: ReadonlyArray<string>; readonly entities: ReadonlyArray<string> } | undefined
  /** A canonical topic (`contacts.created`) or an Intercom one (`contact.user.created`). */
  readonly topic?: string | undefined
  readonly since?: Date | undefined
  readonly until?: Date | undefined
  /** Only those listed after this one (the next page): received earlier, or at the same time with a lower seq. */
  readonly after?: { readonly receivedAt: number; readonly seq: number } | undefined
  readonly limit: number
}

/** A delivery of the notification still in the outbox. */
export interface WaitingDelivery {
  readonly sink: string
  readonly attempts: number
  readonly nextAttemptAt: Date
  readonly lastError: string | null
}

/** A dead letter of the notification, replayed or not. */
export interface NotificationDeadLetter {
  readonly id: number
  readonly sink: string | null
  readonly reason: DeadLetterReason
  readonly error: string
  readonly attempts: number
  readonly deadAt: Date
  readonly replayedAt: Date | null
}

/** Where a logged notification's deliveries stand: those waiting, and its dead letters. The rest were delivered. */
export interface DeliveryRecord {
  readonly waiting: ReadonlyArray<WaitingDelivery>
  readonly deadLetters: ReadonlyArray<NotificationDeadLetter>
}

/**
 * The notification log: what the console's notification pages and per-minute chart read. Written off the request path
 * in batches (`write`), kept for `NOTIFICATION_LOG_RETENTION` and at most `NOTIFICATION_LOG_MAX_ROWS` rows (`prune`).
 */
export class NotificationLogStore extends Context.Tag("NotificationLogStore")<NotificationLogStore, {
  /** Adds the entries and the counts (added to those of the same minute and outcome), in one transaction. */
  readonly write: (
    entries: ReadonlyArray<LogEntry>,
    counts: ReadonlyArray<MinuteCount>
  ) => Effect.Effect<void, StoreUnavailable>
  readonly search: (search: LogSearch) => Effect.Effect<ReadonlyArray<LoggedNotification>, StoreUnavailable>
  readonly get: (seq: number) => Effect.Effect<Option.Option<LoggedNotificationWithBody>, StoreUnavailable>
  /** The outbox rows and dead letters of a logged notification. */
  readonly deliveries: (logged: LoggedNotification) => Effect.Effect<DeliveryRecord, StoreUnavailable>
  /** The per-minute counts from `since` (epoch milliseconds) on. */
  readonly minutes: (since: number) => Effect.Effect<ReadonlyArray<MinuteCount>, StoreUnavailable>
  /**
   * Removes the entries received before `before` (epoch milliseconds), and the oldest beyond the newest `maxRows`, and
   * counts of minutes before `before`; returns how many entries went. Removes a bounded number per call.
   */
  readonly prune: (before: number, maxRows: number) => Effect.Effect<number, StoreUnavailable>
}>() {}
