import { Context, Effect, Layer } from "effect"
import * as DurableFile from "./DurableFile.js"
import type { Notification } from "./Notification.js"
import { ReceiverConfig } from "./ReceiverConfig.js"
import { record } from "./Sink.js"

export type DeadLetterReason = "schema_mismatch" | "no_route"

/** Notifications that were verified but could not be delivered: kept with the reason, never dropped. */
export class DeadLetters extends Context.Tag("DeadLetters")<DeadLetters, {
  readonly path: string
  readonly add: (
    notification: Notification,
    reason: DeadLetterReason,
    error: string
  ) => Effect.Effect<void, DurableFile.FileWriteError>
}>() {
  static readonly layer = Layer.scoped(
    DeadLetters,
    Effect.gen(function*() {
      const { deadLetterPath } = yield* ReceiverConfig
      const file = yield* DurableFile.make(deadLetterPath)
      return DeadLetters.of({
        path: deadLetterPath,
        add: (notification, reason, error) => file.append(record(notification, { reason, error }))
      })
    })
  )
}
