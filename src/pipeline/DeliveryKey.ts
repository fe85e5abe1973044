import { createHash } from "node:crypto"
import { isStorable } from "../store/StorableText.js"

/** Keys longer than this are stored as their hash: a key is indexed, and item ids come from the signed body. */
const MAX_KEY_LENGTH = 200

const CONTACT_TYPES = new Set(["contact", "user", "lead"])

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const idOf = (value: unknown): string | undefined => {
  if (!isObject(value)) return undefined
  const id = value.id
  return typeof id === "string" && id.length > 0 ? id : typeof id === "number" ? String(id) : undefined
}

const bounded = (key: string): string =>
  key.length <= MAX_KEY_LENGTH && isStorable(key)
    ? key
    : `sha256:${createHash("sha256").update(key).digest("hex")}`

/**
 * The key a notification's deliveries are ordered by: every sink takes the notifications of one key in the order they
 * were received, and those of different keys side by side. It names the Intercom object the notification is about:
 * `contact:<id>` for contacts, users and leads and for their tag notifications (the tagged contact),
 * `conversation:<id>`, `<item type>:<id>` for other items with an id; else `notification:<id>`, else
 * `topic:<intercom topic>` (a `ping`). A key longer than 200 characters, or holding a NUL or an unpaired surrogate, is
 * `sha256:<hex>` of it.
 */
export const deliveryKey = (payload: unknown, notificationId: string | null, intercomTopic: string): string => {
  const item = isObject(payload) && isObject(payload.data) ? payload.data.item : undefined
  if (isObject(item)) {
    const type = typeof item.type === "string" ? item.type : "item"
    const tagged = type === "contact_tag" ? idOf(item.contact) : type === "user_tag" ? idOf(item.user) : undefined
    if (tagged !== undefined) return bounded(`contact:${tagged}`)
    const id = idOf(item)
    if (id !== undefined) return bounded(`${CONTACT_TYPES.has(type) ? "contact" : type}:${id}`)
  }
  return bounded(notificationId === null ? `topic:${intercomTopic}` : `notification:${notificationId}`)
}
