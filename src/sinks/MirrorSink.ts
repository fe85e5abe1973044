import { Effect, Either } from "effect"
import { mirrorChanges } from "../mirror/Rows.js"
import type { Notification } from "../pipeline/Notification.js"
import { MIRROR_SINK } from "../store/Mirror.js"
import type { Outbox } from "../store/Outbox.js"
import { type Sink, SinkError } from "./Sink.js"

/** The changes of a decoded notification; a notification that does not match its schema makes none. */
const changes = (notification: Notification) =>
  notification.decoded === undefined
    ? Either.left(`does not match its schema: ${notification.schemaMismatch ?? "no schema for this topic"}`)
    : mirrorChanges(notification.decoded, notification.receivedAt)

/**
 * `mirror`: Intercom contacts, conversations and tag links kept current in the store's tables, applied in the
 * transaction that accepts the notification. A notification it cannot apply goes through the outbox, where the
 * worker makes it this sink's dead letter (`schema_mismatch`, or `rejected` with the reason), replayable once fixed; so
 * does one whose changes the store refuses (`MirrorRefused`), whichever notifications were committed with it.
 */
export const make = (outbox: Outbox["Type"]): Sink => ({
  name: MIRROR_SINK,
  mode: "store",
  input: "decoded",
  changes,
  deliver: (notification) =>
    Either.match(changes(notification), {
      onLeft: (reason) => Effect.fail(SinkError.rejected(MIRROR_SINK, reason)),
      onRight: (found) =>
        outbox.applyMirror(found).pipe(
          Effect.mapError((error) =>
            error._tag === "MirrorRefused"
              ? SinkError.rejected(MIRROR_SINK, error.message)
              : SinkError.unavailable(MIRROR_SINK, `the store cannot take the changes: ${error.message}`)
          )
        )
    })
})
