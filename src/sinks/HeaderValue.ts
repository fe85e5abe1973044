import { createHash } from "node:crypto"

/**
 * The longest header value a sink sends. A topic or id passes the decoder with at most 200 characters, at most 1,800
 * once encoded, so only a value from elsewhere could be left out.
 */
export const MAX_HEADER_LENGTH = 2048

/** The longest notification id used as it is for dedupe; AMQP's `message_id` holds 255 bytes. */
export const MAX_DEDUPE_ID_LENGTH = 200

/** Visible ASCII but `%`: what every carrier (HTTP, NATS and AMQP headers) takes as it is. */
const PLAIN = /^[\x21-\x24\x26-\x7e]*$/

const hex = (byte: number) => `%${byte < 16 ? "0" : ""}${byte.toString(16).toUpperCase()}`

const encode = (value: string): string => {
  let encoded = ""
  for (const byte of Buffer.from(value, "utf8")) {
    encoded += byte >= 0x21 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : hex(byte)
  }
  return encoded
}

/**
 * A topic or id as a header value: itself when it is visible ASCII without `%`; otherwise each byte of its UTF-8 that
 * is not (space, control characters, `%`, anything beyond ASCII) written `%XX`, so that percent-decoding any such
 * header gives the value back. Undefined when that is longer than `MAX_HEADER_LENGTH`: the header is left out.
 */
export const headerValue = (value: string): string | undefined => {
  const safe = PLAIN.test(value) ? value : encode(value)
  return safe.length > MAX_HEADER_LENGTH ? undefined : safe
}

/**
 * A notification id as a dedupe id (`Nats-Msg-Id`, AMQP `message_id`, `webhook-id`): itself when it is 1 to 200
 * characters of visible ASCII without `%` (then the same as its header), otherwise `sha256:` and the hex SHA-256 of its
 * UTF-8, which a retry of the notification gives again.
 */
export const dedupeId = (id: string): string =>
  id.length > 0 && id.length <= MAX_DEDUPE_ID_LENGTH && PLAIN.test(id)
    ? id
    : `sha256:${createHash("sha256").update(id, "utf8").digest("hex")}`
