import { Effect, Either } from "effect"
import type { IncomingHttpHeaders } from "node:http"
import { ReceiverConfig } from "../config/ReceiverConfig.js"
import {
  admit,
  Answered,
  bodyRefused,
  count,
  type Handled,
  receiveRefused,
  refused,
  signatureRefused,
  unexpected
} from "../http/Answers.js"
import { BodyTooLarge, BodyUnreadable } from "../http/Body.js"
import { Metrics } from "../ops/Metrics.js"
import { Receiver } from "../pipeline/Receiver.js"
import { Signature, type Verifier } from "../pipeline/Signature.js"

/** A request to the webhook as any framework hands it over. */
export interface IncomingWebhook {
  readonly method: string
  /** A header's value by lower-case name. */
  readonly header: (name: string) => string | undefined
  /**
   * The body still to read, chunk by chunk, or its bytes when the framework read them already; `parsed` when a body
   * parser consumed it before the webhook could verify its signature (answered 500, naming the fix).
   */
  readonly body: AsyncIterable<Uint8Array> | Uint8Array | undefined | Parsed
}

/** The answer to write: status, headers, and a JSON body (empty for HEAD). */
export interface WebhookAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** A body a parser read and replaced, and what the app should do instead. */
export interface Parsed {
  readonly _tag: "Parsed"
  readonly fix: string
}

const METHODS = "POST, HEAD"

const parsedBefore = (parsed: Parsed) =>
  Effect.as(
    Effect.logError("the webhook's body was parsed before its signature could be checked").pipe(
      Effect.annotateLogs("fix", parsed.fix)
    ),
    refused(
      500,
      "body_already_parsed",
      `a body parser read this request before the Intercom webhook could verify its signature over the raw bytes: ${parsed.fix}`
    )
  )

const toAnswer = ({ answer }: Handled): WebhookAnswer => ({
  status: answer.status,
  headers: { ...answer.headers, "content-type": "application/json" },
  body: JSON.stringify(answer.body)
})

/** Reads the body up to `limit` bytes, hashing each chunk as it comes; stops reading at the first byte over. */
const readUpTo = (
  body: AsyncIterable<Uint8Array> | Uint8Array | undefined,
  limit: number,
  onChunk: (chunk: Uint8Array) => void
) =>
  Effect.tryPromise({
    try: async (): Promise<Either.Either<Uint8Array, BodyTooLarge>> => {
      if (body === undefined) return Either.right(new Uint8Array(0))
      if (body instanceof Uint8Array) {
        if (body.byteLength > limit) return Either.left(new BodyTooLarge({ limit }))
        onChunk(body)
        return Either.right(body)
      }
      const chunks: Array<Uint8Array> = []
      let length = 0
      for await (const chunk of body) {
        length += chunk.byteLength
        if (length > limit) return Either.left(new BodyTooLarge({ limit }))
        onChunk(chunk)
        chunks.push(chunk)
      }
      return Either.right(Buffer.concat(chunks, length))
    },
    catch: (error) => new BodyUnreadable({ message: error instanceof Error ? error.message : String(error) })
  })

/**
 * The webhook endpoint for a framework's request: HEAD answered 200 (Intercom's URL check), other methods than POST
 * 405, then the same checks and answers as the service's endpoint: Content-Type, the signature's form before the body
 * is read, the body's size while it streams in, its signature, then the pipeline.
 */
export const endpoint = Effect.gen(function*() {
  const receiver = yield* Receiver
  const signature = yield* Signature
  const metrics = yield* Metrics
  const limit = (yield* ReceiverConfig).maxBodyBytes
  return (incoming: IncomingWebhook): Effect.Effect<WebhookAnswer> => {
    if (incoming.method === "HEAD") return Effect.succeed({ status: 200, headers: {}, body: "" })
    if (incoming.method !== "POST") {
      return Effect.succeed(toAnswer(refused(405, "method_not_allowed", "the webhook path answers POST and HEAD", {
        allow: METHODS
      })))
    }
    const headers: IncomingHttpHeaders = {
      "content-type": incoming.header("content-type"),
      "x-hub-signature": incoming.header("x-hub-signature")
    }
    const length = Number(incoming.header("content-length") ?? Number.NaN)
    const body = incoming.body
    /** The body read and verified, then the pipeline; what stops it on the way is answered. */
    const receiveBody = (verifier: Verifier): Effect.Effect<Handled> => {
      if (body !== undefined && "_tag" in body) return parsedBefore(body)
      if (Number.isSafeInteger(length) && length > limit) {
        return Effect.succeed(bodyRefused(metrics, new BodyTooLarge({ limit })))
      }
      return readUpTo(body, limit, verifier.update).pipe(
        Effect.flatMap(Either.match({
          onLeft: (error) => Effect.succeed(bodyRefused(metrics, error)),
          onRight: (bytes) =>
            Either.match(verifier.finish(bytes), {
              onLeft: (error) => Effect.succeed(signatureRefused(metrics, error)),
              onRight: (verified) =>
                receiver.receive(verified).pipe(
                  Effect.map((outcome): Handled => new Answered({ ...outcome, secretIndex: verified.secretIndex })),
                  Effect.catchAll(receiveRefused)
                )
            })
        })),
        Effect.catchTag("BodyUnreadable", (error) => Effect.succeed(bodyRefused(metrics, error)))
      )
    }
    const handled = Either.match(admit(signature, metrics, headers), {
      onLeft: (refusal) => Effect.succeed(refusal),
      onRight: receiveBody
    })
    return handled.pipe(
      Effect.tap((result) => {
        if (result.received !== undefined) count(metrics, result.received)
        metrics.requests.inc({ status: String(result.answer.status) })
      }),
      Effect.catchAllDefect(unexpected(metrics)),
      Effect.map(toAnswer)
    )
  }
})
