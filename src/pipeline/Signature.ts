import type { Headers } from "@effect/platform"
import { Brand, Context, Data, Effect, Layer, Redacted } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"
import { ReceiverConfig } from "../config/ReceiverConfig.js"

/** Body bytes whose `X-Hub-Signature` matched a configured secret: the only input decoding accepts. */
export type VerifiedBody = Uint8Array & Brand.Brand<"VerifiedBody">
const VerifiedBody = Brand.nominal<VerifiedBody>()

/** Bytes this service verified before it stored them (the outbox, dead letters). */
export const verifiedBeforeStoring = (bytes: Uint8Array): VerifiedBody => VerifiedBody(bytes)

export class SignatureError extends Data.TaggedError("SignatureError")<{
  readonly reason: "missing" | "malformed" | "mismatch"
  readonly message: string
}> {}

const HEADER = "x-hub-signature"
const FORMAT = /^sha1=([0-9a-f]{40})$/i

/** `sha1=` + hex HMAC-SHA1 of `body` keyed with `secret`: the value Intercom puts in `X-Hub-Signature`. */
export const sign = (secret: string, body: Uint8Array): string =>
  `sha1=${createHmac("sha1", secret).update(body).digest("hex")}`

export class Signature extends Context.Tag("Signature")<Signature, {
  /** Checks the body against every configured secret; yields the body as verified and the index of the secret. */
  readonly verify: (
    headers: Headers.Headers,
    body: Uint8Array
  ) => Effect.Effect<{ readonly body: VerifiedBody; readonly secretIndex: number }, SignatureError>
}>() {
  static readonly make = (secrets: ReadonlyArray<Redacted.Redacted<string>>) =>
    Signature.of({
      verify: (headers, body) => {
        const header = headers[HEADER]
        if (header === undefined) {
          return Effect.fail(new SignatureError({ reason: "missing", message: "missing X-Hub-Signature header" }))
        }
        const match = FORMAT.exec(header.trim())
        if (match === null) {
          return Effect.fail(
            new SignatureError({ reason: "malformed", message: "X-Hub-Signature must be sha1=<40 hex digits>" })
          )
        }
        const given = Buffer.from(match[1]!, "hex")
        let secretIndex = -1
        secrets.forEach((secret, index) => {
          const expected = createHmac("sha1", Redacted.value(secret)).update(body).digest()
          if (timingSafeEqual(expected, given) && secretIndex === -1) secretIndex = index
        })
        return secretIndex === -1
          ? Effect.fail(new SignatureError({ reason: "mismatch", message: "X-Hub-Signature does not match the body" }))
          : Effect.succeed({ body: VerifiedBody(body), secretIndex })
      }
    })

  static readonly layer = Layer.effect(
    Signature,
    Effect.map(ReceiverConfig, (config) => Signature.make(config.secrets))
  )
}
