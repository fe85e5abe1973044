import type { Headers } from "@effect/platform"
import { Context, Data, Effect, Layer } from "effect"
import { DeadLetters } from "./DeadLetters.js"
import type { FileWriteError } from "./DurableFile.js"
import { Decoder, type MalformedNotification, type Notification } from "./Notification.js"
import { Router } from "./Router.js"
import { Signature, type SignatureError } from "./Signature.js"
import type { SinkError } from "./Sink.js"

/** What became of an accepted notification. */
export type Outcome =
  | { readonly status: "delivered"; readonly notification: Notification; readonly sinks: ReadonlyArray<string> }
  | {
    readonly status: "dead_lettered"
    readonly notification: Notification
    readonly reason: "schema_mismatch" | "no_route"
  }

/** An outcome and which configured secret verified the request. */
export type Received = Outcome & { readonly secretIndex: number }

/** Some routed sink could not take the notification: answer 503 so that Intercom sends it again. */
export class SinksUnavailable extends Data.TaggedError("SinksUnavailable")<{
  readonly failures: ReadonlyArray<SinkError>
}> {}

/** The dead-letter file cannot be written: the notification is not safe, so it is not acknowledged. */
export class DeadLetterUnavailable extends Data.TaggedError("DeadLetterUnavailable")<{
  readonly cause: FileWriteError
}> {}

export type ReceiveError = SignatureError | MalformedNotification | SinksUnavailable | DeadLetterUnavailable

/** Verify, decode, route, deliver: the whole pipeline behind the webhook endpoint. */
export class Receiver extends Context.Tag("Receiver")<Receiver, {
  readonly receive: (headers: Headers.Headers, body: Uint8Array) => Effect.Effect<Received, ReceiveError>
}>() {
  static readonly layer = Layer.effect(
    Receiver,
    Effect.gen(function*() {
      const signature = yield* Signature
      const decoder = yield* Decoder
      const router = yield* Router
      const deadLetters = yield* DeadLetters

      const deadLetter = (notification: Notification, reason: "schema_mismatch" | "no_route", error: string) =>
        deadLetters.add(notification, reason, error).pipe(
          Effect.mapError((cause) => new DeadLetterUnavailable({ cause })),
          Effect.as<Outcome>({ status: "dead_lettered", notification, reason })
        )

      const deliver = (
        notification: Notification
      ): Effect.Effect<Outcome, SinksUnavailable | DeadLetterUnavailable> => {
        const sinks = router.route(notification)
        if (sinks.length === 0) {
          return deadLetter(notification, "no_route", "no rule of ROUTES matches this topic")
        }
        return Effect.forEach(sinks, (sink) => Effect.either(sink.deliver(notification)), {
          concurrency: "unbounded"
        }).pipe(
          Effect.flatMap((results) => {
            const failures = results.flatMap((result) => result._tag === "Left" ? [result.left] : [])
            return failures.length > 0
              ? Effect.fail(new SinksUnavailable({ failures }))
              : Effect.succeed<Outcome>({ status: "delivered", notification, sinks: sinks.map((sink) => sink.name) })
          })
        )
      }

      return Receiver.of({
        receive: (headers, body) =>
          Effect.flatMap(
            signature.verify(headers, body),
            ({ body, secretIndex }) =>
              decoder.decode(body, new Date()).pipe(
                Effect.flatMap(deliver),
                Effect.catchTag(
                  "SchemaMismatch",
                  (mismatch) => deadLetter(mismatch.notification, "schema_mismatch", mismatch.message)
                ),
                Effect.map((outcome): Received => ({ ...outcome, secretIndex }))
              )
          )
      })
    })
  )
}
