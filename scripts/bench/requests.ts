import { createHash } from "node:crypto"
import { closeSync, openSync, readFileSync, writeSync } from "node:fs"
import { sign } from "../../src/pipeline/Signature.js"

/** A realistic notification from the corpus the schema generator never reads, so the bench measures real traffic. */
export const templatePath = "test/corpus/conversations.closed/conversation-admin-closed-older-2x-operator-bot.json"
const template = JSON.parse(readFileSync(new URL(`../../${templatePath}`, import.meta.url), "utf8"))

/**
 * A `conversation.admin.closed` notification of at least `size` bytes: the template as it is, or with a longer message
 * body and more parts.
 */
export const notificationOfSize = (size: number) => {
  const notification = structuredClone(template)
  const parts = notification.data.item.conversation_parts
  const part = parts.conversation_parts[0]
  while (JSON.stringify(notification).length + 2048 < size) {
    parts.conversation_parts.push({
      ...part,
      id: String(9_100_000 + parts.conversation_parts.length),
      body: `<p>${"x".repeat(1900)}</p>`
    })
  }
  parts.total_count = parts.conversation_parts.length
  const missing = size - JSON.stringify(notification).length
  notification.data.item.source.body += "y".repeat(Math.max(0, missing))
  return notification
}

/**
 * An id shaped as Intercom's are (`notif_` and a version 4 UUID), derived from `prefix` and `index`: the same in every
 * run, and as scattered as real ids over the store's index of seen ids (sequential ids made every insert land on the
 * same index page, which real traffic never does).
 */
export const intercomId = (prefix: string, index: number) => {
  const hex = createHash("sha1").update(`${prefix}:${index}`).digest("hex")
  const variant = "89ab"[Number.parseInt(hex[16]!, 16) % 4]
  return `notif_${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${
    hex.slice(20, 32)
  }`
}

/**
 * Writes `count` signed requests, one `signature<TAB>body` per line, each with its own notification id and about one of
 * a thousand conversations, a thousand lines at a time (200,000 of them are more than one string can hold).
 */
export const writeRequests = (path: string, size: number, count: number, secret: string, prefix = "bench"): number => {
  const notification = notificationOfSize(size)
  const file = openSync(path, "w")
  let bytes = 0
  let lines: Array<string> = []
  for (let index = 0; index < count; index++) {
    notification.id = intercomId(prefix, index)
    notification.data.item.id = String(1_000_000_000 + (index % 1000))
    const body = JSON.stringify(notification)
    bytes = body.length
    lines.push(`${sign(secret, Buffer.from(body))}\t${body}\n`)
    if (lines.length === 1000 || index === count - 1) {
      writeSync(file, lines.join(""))
      lines = []
    }
  }
  closeSync(file)
  return bytes
}

/**
 * How many notifications a measured run of `seconds` needs so that no id repeats at the fastest rate this machine has
 * seen (500 a second at 300 KB, 8,000 at 2.8 KB): a repeated id takes the service's duplicate path, which writes
 * nothing, while the other servers write every body. 1,000 at 300 KB repeated a third of each 4-second round.
 */
export const measuredCount = (size: number, seconds: number) => Math.ceil(seconds * (size > 10_000 ? 500 : 8_000))

/**
 * How many warm-up notifications to write: enough that no id repeats during a warm-up at the fastest server's rate.
 * A repeated id takes the service's duplicate path, which the measured run never takes: with 2,000 cycled ids most of
 * the warm-up was duplicates, and V8 was still compiling the accept path in the measured run (`--trace-opt`: 208
 * compilations in its first 10,000 requests, against 66 after a warm-up of unique ids).
 */
export const warmCount = (size: number) => size > 10_000 ? 1_000 : 30_000
