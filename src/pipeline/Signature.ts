import { Brand, Context, Data, Effect, Either, Layer, Redacted } from "effect"
import { createHmac, type Hmac, timingSafeEqual } from "node:crypto"
import type { IncomingHttpHeaders } from "node:http"
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

/** A body that matched, and which configured secret it matched. */
export interface Verified {
  readonly body: VerifiedBody
  readonly secretIndex: number
}

/** Hashes a body while it streams in, then says whether it matched the header. */
export interface Verifier {
  readonly update: (chunk: Uint8Array) => void
  /** `body` is the concatenation of every chunk given to `update`. */
  readonly finish: (body: Uint8Array) => Either.Either<Verified, SignatureError>
}

const HEADER = "x-hub-signature"
const FORMAT = /^sha1=([0-9a-f]{40})$/i

/** `sha1=` + hex HMAC-SHA1 of `body` keyed with `secret`: the value Intercom puts in `X-Hub-Signature`. */
export const sign = (secret: string, body: Uint8Array): string =>
  `sha1=${createHmac("sha1", secret).update(body).digest("hex")}`

const missing = new SignatureError({ reason: "missing", message: "missing X-Hub-Signature header" })
const malformed = new SignatureError({ reason: "malformed", message: "X-Hub-Signature must be sha1=<40 hex digits>" })
const mismatch = new SignatureError({ reason: "mismatch", message: "X-Hub-Signature does not match the body" })

export class Signature extends Context.Tag("Signature")<Signature, {
  /**
   * Checks the header's form before any byte of the body is read (a request without a well-formed signature is
   * refused unread), and yields a verifier that hashes the body with every configured secret as it streams in.
   */
  readonly begin: (headers: IncomingHttpHeaders) => Either.Either<Verifier, SignatureError>
}>() {
  static readonly make = (secrets: ReadonlyArray<Redacted.Redacted<string>>) => {
    const keys = secrets.map(Redacted.value)
    return Signature.of({
      begin: (headers) => {
        const header = headers[HEADER]
        if (header === undefined) return Either.left(missing)
        const match = typeof header === "string" ? FORMAT.exec(header.trim()) : null
        if (match === null) return Either.left(malformed)
        const given = Buffer.from(match[1]!, "hex")
        const hmacs: ReadonlyArray<Hmac> = keys.map((key) => createHmac("sha1", key))
        return Either.right({
          update: (chunk) => {
            for (const hmac of hmacs) hmac.update(chunk)
          },
          finish: (body) => {
            // Every digest is compared, whichever matches first: the time taken does not tell which secret matched.
            let secretIndex = -1
            for (let index = 0; index < hmacs.length; index++) {
              if (timingSafeEqual(hmacs[index]!.digest(), given) && secretIndex === -1) secretIndex = index
            }
            return secretIndex === -1 ? Either.left(mismatch) : Either.right({ body: VerifiedBody(body), secretIndex })
          }
        })
      }
    })
  }

  static readonly layer = Layer.effect(
    Signature,
    Effect.map(ReceiverConfig, (config) => Signature.make(config.secrets))
  )
}
