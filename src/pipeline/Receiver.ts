import { Context, Data, Effect, Either, Exit, Layer } from "effect"
import type { MirrorChange } from "../mirror/Rows.js"
import { DriftCapture } from "../ops/DriftCapture.js"
import type { Sink, SinkError } from "../sinks/Sink.js"
import { Outbox, type OutboxFull, type StoreRefused, type StoreUnavailable } from "../store/Outbox.js"
import { DeadLetters } from "./DeadLetters.js"
import {
  Decoder,
  type MalformedNotification,
  type Notification,
  type NotificationBytes,
  withoutPayload
} from "./Notification.js"
import { Router } from "./Router.js"
import type { Verified } from "./Signature.js"

/**
 * A function that returns `value` once and then forgets it, so that no closure left waiting on a sync keeps the
 * notification's parsed body: see docs/performance.md#nothing-that-waits-for-a-sync-holds-the-parsed-body.
 */
const handOver = <A>(value: A): () => A => {
  let held: A | undefined = value
  return () => {
    const taken = held!
    held = undefined
    return taken
  }
}

/** What became of a verified notification. */
export type Outcome =
  | {
    readonly status: "accepted"
    readonly notification: NotificationBytes
    /** Routed sinks; `queued` ones are in the durable outbox, the others already have it. */
    readonly sinks: ReadonlyArray<string>
    readonly queued: ReadonlyArray<string>
  }
  | { readonly status: "duplicate"; readonly notification: NotificationBytes }
  | { readonly status: "dead_lettered"; readonly notification: NotificationBytes; readonly reason: "no_route" }

/** Some inline sink could not take the notification: answer 503 so that Intercom sends it again. */
export class SinksUnavailable extends Data.TaggedError("SinksUnavailable")<{
  readonly failures: ReadonlyArray<SinkError>
}> {}

export type ReceiveError =
  | MalformedNotification
  | SinksUnavailable
  | StoreUnavailable
  | StoreRefused
  | OutboxFull

const oneFailed = (error: SinkError) => new SinksUnavailable({ failures: [error] })

/** Runs the deliveries one after the other, failing at the end with every failure if any failed. */
const inTurn = (deliveries: ReadonlyArray<Effect.Effect<void, SinkError>>): Effect.Effect<void, SinksUnavailable> => {
  const failures: Array<SinkError> = []
  const next = (index: number): Effect.Effect<void, SinksUnavailable> =>
    index === deliveries.length
      ? failures.length === 0 ? Effect.void : Effect.fail(new SinksUnavailable({ failures }))
      : Effect.matchEffect(deliveries[index]!, {
        onFailure: (error) => {
          failures.push(error)
          return next(index + 1)
        },
        onSuccess: () => next(index + 1)
      })
  return next(0)
}

/** Decode, dedupe, route, deliver or queue a verified body: the pipeline behind the webhook endpoint. */
export class Receiver extends Context.Tag("Receiver")<Receiver, {
  readonly receive: (verified: Verified) => Effect.Effect<Outcome, ReceiveError>
}>() {
  static readonly layer = Layer.effect(
    Receiver,
    Effect.gen(function*() {
      const decoder = yield* Decoder
      const router = yield* Router
      const outbox = yield* Outbox
      const deadLetters = yield* DeadLetters
      const drift = yield* DriftCapture

      const noRoute = (notification: NotificationBytes) =>
        deadLetters.add(notification, "no_route", "no rule of ROUTES matches this topic").pipe(
          Effect.as<Outcome>({ status: "dead_lettered", notification, reason: "no_route" })
        )

      /**
       * Each inline sink in turn (a fiber per sink costs more than the few microseconds a console sink takes). Every
       * delivery is made before the first runs: no step left waiting holds the notification (see `handOver`).
       */
      const deliverInline = (
        inline: ReadonlyArray<Sink>,
        notification: Notification
      ): Effect.Effect<void, SinksUnavailable> =>
        // One sink, the usual case: the same outcome as `inTurn`, without its steps on every request.
        inline.length === 1
          ? Effect.mapError(inline[0]!.deliver(notification), oneFailed)
          : inTurn(inline.map((sink) => sink.deliver(notification)))

      // Written as one chain of steps rather than a generator: this runs for every request.
      const routed = (notification: Notification): Effect.Effect<Outcome, ReceiveError> => {
        const sinks = router.route(notification)
        // The inline sinks take what they need as their deliveries are made, the store sinks' changes are computed
        // here: what waits for the file and the store to sync keeps only the bytes (see `withoutPayload`).
        const kept = withoutPayload(notification)
        if (sinks.length === 0) return noRoute(kept)
        const inline = sinks.filter((sink) => sink.mode === "inline")
        const queued = sinks.filter((sink) => sink.mode === "outbox").map((sink) => sink.name)
        // A store sink's changes commit with the notification; one it cannot take now goes through the outbox.
        const changes: Array<MirrorChange> = []
        for (const sink of sinks) {
          if (sink.mode !== "store") continue
          const found = sink.changes!(notification)
          if (Either.isRight(found)) changes.push(...found.right)
          else queued.push(sink.name)
        }
        const accept = Effect.map(
          outbox.accept(kept, queued, changes),
          (result): Outcome =>
            result === "duplicate"
              ? { status: "duplicate", notification: kept }
              : { status: "accepted", notification: kept, sinks: sinks.map((sink) => sink.name), queued }
        )
        return inline.length === 0 ? accept : Effect.zipRight(deliverInline(inline, notification), accept)
      }

      const deliverOnce = (notification: Notification): Effect.Effect<Outcome, ReceiveError> => {
        if (notification.id === null) return routed(notification)
        const held = handOver(notification)
        return Effect.flatMap(outbox.seen(notification.id), (seen): Effect.Effect<Outcome, ReceiveError> => {
          const taken = held()
          return seen ? Effect.succeed({ status: "duplicate", notification: withoutPayload(taken) }) : routed(taken)
        })
      }

      // Copies of one id arriving together (Intercom's retry racing a slow first attempt) wait for the first: once it
      // is taken they are answered `duplicate`, so inline sinks see an id once; if it fails, the next copy goes ahead.
      // Across instances on a shared store, `accept` decides which copy is the one. The copies waiting for an id are
      // callbacks: no deferred is made for the id unless a copy arrives.
      const inFlight = new Map<string, Array<(taken: boolean) => void>>()
      const deliver = (notification: Notification): Effect.Effect<Outcome, ReceiveError> => {
        const id = notification.id
        if (id === null) return deliverOnce(notification)
        const waiting = inFlight.get(id)
        if (waiting !== undefined) return afterFirst(waiting, notification)
        inFlight.set(id, [])
        return Effect.onExit(deliverOnce(notification), settle(id))
      }
      const afterFirst = (waiting: Array<(taken: boolean) => void>, notification: Notification) =>
        Effect.async<Outcome, ReceiveError>((resume) => {
          waiting.push((taken) =>
            resume(taken ? Effect.succeed({ status: "duplicate", notification }) : deliver(notification))
          )
        })
      const settle = (id: string) => (exit: Exit.Exit<Outcome, ReceiveError>) => {
        const waiters = inFlight.get(id)!
        inFlight.delete(id)
        for (const waiter of waiters) waiter(Exit.isSuccess(exit))
        return Effect.void
      }

      return Receiver.of({
        // Suspended: whatever the decoding or a sink's delivery throws is a defect of the request's fiber.
        receive: ({ body }) =>
          Effect.suspend(() => {
            const decoded = decoder.decode(body, new Date())
            if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
            if (!drift.enabled) return deliver(decoded.right)
            // Checked for drift once accepted (a duplicate is not checked again), in the background (DriftCapture).
            return Effect.tap(deliver(decoded.right), (outcome) => {
              if (outcome.status === "accepted") drift.inspect(outcome.notification)
            })
          })
      })
    })
  )
}
