import { Cause, Effect } from "effect"
import type { CanonicalTopic, NotificationOf } from "../generated/index.js"
import type { Notification } from "../pipeline/Notification.js"
import { type Sink, SinkError } from "../sinks/Sink.js"

/** What a hook is told about the notification besides its body. */
export interface HookContext {
  /** The canonical topic, or null for an Intercom topic without a schema here. */
  readonly topic: CanonicalTopic | null
  /** Intercom's own topic string, e.g. `conversation.admin.closed`. */
  readonly intercomTopic: string
  /** Intercom's notification id; null for `ping`. */
  readonly id: string | null
  readonly appId: string | null
  /** `data.item.id` (a number given as its text), whatever the item's kind; null when it has none. */
  readonly itemId: string | null
  readonly receivedAt: Date
  /** Why a notification of a known topic does not match its schema; undefined when it does. */
  readonly schemaMismatch: string | undefined
  /** The body exactly as received and verified. */
  readonly body: Uint8Array
}

/** A hook may return a promise: the notification counts as handled once it settles, failed if it rejects. */
type HookResult = unknown

/**
 * One function per canonical topic, its argument typed by the topic's generated schema, and `"*"` for everything no
 * typed hook takes: topics without a schema, topics without a hook, and notifications that do not match their schema.
 */
export type Hooks =
  & {
    readonly [T in CanonicalTopic]?: (notification: NotificationOf<T>, context: HookContext) => HookResult
  }
  & {
    readonly "*"?: (notification: unknown, context: HookContext) => HookResult
  }

export const HOOKS_SINK = "hooks"

const itemIdOf = (payload: unknown): string | null => {
  const id = (payload as { data?: { item?: { id?: unknown } } }).data?.item?.id
  return typeof id === "string" ? id : typeof id === "number" ? String(id) : null
}

const contextOf = (notification: Notification): HookContext => ({
  topic: notification.topic,
  intercomTopic: notification.intercomTopic,
  id: notification.id,
  appId: notification.appId,
  itemId: itemIdOf(notification.payload),
  receivedAt: notification.receivedAt,
  schemaMismatch: notification.schemaMismatch,
  body: notification.body
})

const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

/**
 * The hooks as a sink. `inline`: called before the answer, a failure answers 503 (Intercom sends it again once).
 * `outbox`: called from the durable outbox after the 200, a failure retried with backoff, then a dead letter; a
 * notification that does not match its topic's schema, with a typed hook for that topic and no `"*"`, is a dead
 * letter (`rejected`) to replay once the schema knows its shape.
 */
export const hooksSink = (hooks: Hooks, mode: "inline" | "outbox"): Sink => {
  const call = (hook: (value: never, context: HookContext) => HookResult, value: unknown, notification: Notification) =>
    Effect.tryPromise({
      try: async () => {
        await hook(value as never, contextOf(notification))
      },
      catch: (error) => error
    }).pipe(
      Effect.catchAllCause((cause) =>
        Effect.fail(
          SinkError.failed(
            HOOKS_SINK,
            `the ${notification.topic ?? notification.intercomTopic} hook failed: ${describe(cause)}`
          )
        )
      )
    )
  return {
    name: HOOKS_SINK,
    mode,
    input: "bytes",
    deliver: (notification) => {
      const decoded = notification.decoded
      if (decoded !== undefined) {
        const typed = hooks[decoded.topic]
        if (typed !== undefined) return call(typed, decoded.value, notification)
      }
      const any = hooks["*"]
      if (any !== undefined) return call(any, notification.payload, notification)
      if (mode === "outbox" && notification.topic !== null && hooks[notification.topic] !== undefined) {
        return Effect.fail(
          SinkError.rejected(
            HOOKS_SINK,
            `does not match the ${notification.topic} schema: ${notification.schemaMismatch ?? "unknown reason"}`
          )
        )
      }
      if (notification.schemaMismatch !== undefined) {
        return Effect.logWarning("notification does not match its schema: no hook called").pipe(
          Effect.annotateLogs({ topic: notification.topic ?? "none", id: notification.id ?? "-" })
        )
      }
      return Effect.void
    }
  }
}
