import { redactText } from "../config/Redact.js"
import type { SinkState } from "../pipeline/Delivery/SinkHealth.js"
import type { DeliveryRecord, NotificationDeadLetter, WaitingDelivery } from "../store/NotificationLog.js"

/** A sink whose target is down: while it is, its deliveries wait untried (no attempt, no error of their own). */
export type SinkFailure = Extract<SinkState, { readonly _tag: "failing" }>

/**
 * Where one sink's delivery of a notification stands. `replayed`: its dead letters were all replayed and nothing waits
 * any more, so the replay delivered it; `delivered`: neither waiting nor dead. Errors are redacted.
 */
export type SinkDelivery =
  | {
    readonly _tag: "waiting"
    readonly sink: string
    readonly waiting: WaitingDelivery
    readonly sinkFailure: SinkFailure | undefined
  }
  | { readonly _tag: "dead"; readonly sink: string | null; readonly letter: NotificationDeadLetter }
  | { readonly _tag: "replayed"; readonly sink: string | null; readonly letter: NotificationDeadLetter }
  | { readonly _tag: "delivered"; readonly sink: string }

const newest = (letters: ReadonlyArray<NotificationDeadLetter>) =>
  letters.reduce<NotificationDeadLetter | undefined>(
    (found, letter) => found === undefined || letter.id > found.id ? letter : found,
    undefined
  )

const redacted = (record: DeliveryRecord): DeliveryRecord => ({
  waiting: record.waiting.map((waiting) => ({
    ...waiting,
    lastError: waiting.lastError === null ? null : redactText(waiting.lastError)
  })),
  deadLetters: record.deadLetters.map((letter) => ({ ...letter, error: redactText(letter.error) }))
})

/**
 * Each sink's delivery, in the order of `sinks`, then sinks only the record names (a replay to another sink), then
 * the dead letters without a sink (`no_route`).
 */
export const sinkDeliveries = (
  sinks: ReadonlyArray<string>,
  record: DeliveryRecord,
  failureOf: (sink: string) => SinkFailure | undefined
): ReadonlyArray<SinkDelivery> => {
  const { deadLetters, waiting } = redacted(record)
  const named = new Set(sinks)
  for (const entry of waiting) named.add(entry.sink)
  for (const letter of deadLetters) if (letter.sink !== null) named.add(letter.sink)
  const ofSink = [...named].map((sink): SinkDelivery => {
    const queued = waiting.find((entry) => entry.sink === sink)
    if (queued !== undefined) {
      const failure = failureOf(sink)
      return {
        _tag: "waiting",
        sink,
        waiting: queued,
        sinkFailure: failure === undefined ? undefined : { ...failure, error: redactText(failure.error) }
      }
    }
    const letters = deadLetters.filter((letter) => letter.sink === sink)
    const dead = newest(letters.filter((letter) => letter.replayedAt === null))
    if (dead !== undefined) return { _tag: "dead", sink, letter: dead }
    const replayed = newest(letters)
    return replayed === undefined ? { _tag: "delivered", sink } : { _tag: "replayed", sink, letter: replayed }
  })
  const sinkless = deadLetters.filter((letter) => letter.sink === null)
    .map((letter): SinkDelivery => ({ _tag: letter.replayedAt === null ? "dead" : "replayed", sink: null, letter }))
  return [...ofSink, ...sinkless]
}
