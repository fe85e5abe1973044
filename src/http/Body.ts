import { Data, Either } from "effect"
import type { IncomingMessage } from "node:http"
import type { Share } from "./BodyBudget.js"

export class BodyTooLarge extends Data.TaggedError("BodyTooLarge")<{ readonly limit: number }> {}

/** Admitting the body would take the bytes held in request bodies over `BODY_BUDGET_BYTES`. */
export class OverBudget extends Data.TaggedError("OverBudget")<{ readonly limit: number }> {}

export class BodyUnreadable extends Data.TaggedError("BodyUnreadable")<{ readonly message: string }> {}

export type BodyError = BodyTooLarge | OverBudget | BodyUnreadable

/**
 * Reads the request body once, as bytes, giving each chunk to `onChunk` as it arrives (the signature is hashed while
 * the body streams in), then calls `done` once with the body or why it was not read. A declared `Content-Length` over
 * the limit, or over what the budget has left, is refused before reading; a body that grows past either stops being
 * read, so nothing over them is buffered. The bytes read are reserved in `share`, which the caller releases once the
 * request is answered, whatever its outcome. Returns a function that stops reading without calling `done` (the client
 * went away). Plain callbacks: the HTTP edge, before the request's fiber starts.
 */
export const readBody = (
  source: IncomingMessage,
  limit: number,
  share: Share,
  onChunk: (chunk: Uint8Array) => void,
  done: (body: Either.Either<Uint8Array, BodyError>) => void
): () => void => {
  const length = Number(source.headers["content-length"] ?? Number.NaN)
  const declared = Number.isSafeInteger(length) && length >= 0 ? length : undefined
  if (declared !== undefined && declared > limit) {
    done(Either.left(new BodyTooLarge({ limit })))
    return () => {}
  }
  if (declared !== undefined && !share.reserve(declared)) {
    done(Either.left(new OverBudget({ limit: share.limit })))
    return () => {}
  }
  let reserved = declared ?? 0
  // A declared length is filled in place, so the body is held once rather than as chunks and then their copy.
  const whole = declared === undefined ? undefined : Buffer.allocUnsafe(declared)
  const chunks: Array<Buffer> = []
  let size = 0
  const stop = (error: BodyTooLarge | OverBudget) => {
    cleanup()
    source.pause()
    done(Either.left(error))
  }
  const onData = (chunk: Buffer) => {
    size += chunk.length
    if (size > limit) return stop(new BodyTooLarge({ limit }))
    if (size > reserved) {
      if (!share.reserve(size - reserved)) return stop(new OverBudget({ limit: share.limit }))
      reserved = size
    }
    onChunk(chunk)
    if (whole === undefined) chunks.push(chunk)
    else chunk.copy(whole, size - chunk.length)
  }
  const onEnd = () => {
    cleanup()
    if (whole !== undefined) done(Either.right(size === whole.length ? whole : whole.subarray(0, size)))
    else done(Either.right(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)))
  }
  const onError = (error: Error) => {
    cleanup()
    done(Either.left(new BodyUnreadable({ message: error.message })))
  }
  const cleanup = () => {
    source.off("data", onData)
    source.off("end", onEnd)
    source.off("error", onError)
  }
  source.on("data", onData)
  source.once("end", onEnd)
  source.once("error", onError)
  return cleanup
}
