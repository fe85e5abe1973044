import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"

/** A status at once, a status after `delayMs`, or "hang": no answer at all, so that the sender times out. */
export type Reply = number | { readonly status: number; readonly delayMs: number } | "hang"

/** One request the target got, and what became of it. */
export interface Exchange {
  /** `x-notification-id`. */
  readonly id: string | undefined
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  readonly reply: Reply
  /** `performance.now()` when the whole request was in. */
  readonly receivedAt: number
  /** When the answer was written; undefined while there is none (always for "hang"). */
  answeredAt: number | undefined
  /** The status written while the sender was still connected; undefined when there was none. */
  status: number | undefined
}

/**
 * A local HTTP receiver for the forward sink that gives `reply(n, id)` to the n-th request (counting from 1; `id` is
 * its `x-notification-id`) and keeps every exchange with its times, so that a test can tell which requests the sender
 * saw succeed, and which overlapped.
 */
export const startScriptedTarget = (reply: (n: number, id: string | undefined) => Reply, port = 0) =>
  Effect.gen(function*() {
    const exchanges: Array<Exchange> = []
    const server = createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const header = request.headers["x-notification-id"]
        const id = typeof header === "string" ? header : undefined
        const given = reply(exchanges.length + 1, id)
        const exchange: Exchange = {
          id,
          headers: request.headers,
          body: Buffer.concat(chunks),
          reply: given,
          receivedAt: performance.now(),
          answeredAt: undefined,
          status: undefined
        }
        exchanges.push(exchange)
        if (given === "hang") return
        const answer = (status: number) => {
          if (response.destroyed || request.socket.destroyed) return
          exchange.answeredAt = performance.now()
          exchange.status = status
          response.writeHead(status).end()
        }
        if (typeof given === "number") answer(given)
        else setTimeout(() => answer(given.status), given.delayMs)
      })
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void server.listen(port, "127.0.0.1", () => resume(Effect.void))),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const { port: listening } = server.address() as AddressInfo
    return {
      url: `http://127.0.0.1:${listening}/hooks`,
      port: listening,
      exchanges: exchanges as ReadonlyArray<Exchange>
    }
  })

/** The exchanges the sender saw answered 200, in the order the target got them. */
export const delivered = (exchanges: ReadonlyArray<Exchange>): ReadonlyArray<Exchange> =>
  exchanges.filter((exchange) => exchange.status === 200)

/** An Intercom object a notification is about, as docs/guarantees.md names its delivery key. */
export interface Subject {
  readonly kind: "conversation" | "contact"
  readonly id: string
}

export const keyOf = (subject: Subject): string => `${subject.kind}:${subject.id}`

const conversationTopics = ["conversation.admin.closed", "conversation.user.created", "conversation.admin.assigned"]

/**
 * A notification about `subject`, written by hand: a conversation topic with a conversation item; for a contact,
 * `contact.user.created` with a contact item, or (variant 2) `contact.user.tag.created` with a `contact_tag` item
 * whose contact is the subject (its key is the contact's too).
 */
export const keyedNotification = (id: string, subject: Subject, variant = 0, createdAt = 1771400000): string => {
  const envelope = { type: "notification_event", id, app_id: "x", created_at: createdAt }
  if (subject.kind === "conversation") {
    return JSON.stringify({
      ...envelope,
      topic: conversationTopics[variant % conversationTopics.length],
      data: { type: "notification_event_data", item: { type: "conversation", id: subject.id, state: "open" } }
    })
  }
  const contact = { type: "contact", id: subject.id, role: "user", email: `${subject.id}@example.com` }
  return JSON.stringify(
    variant % 3 === 2
      ? {
        ...envelope,
        topic: "contact.user.tag.created",
        data: {
          type: "notification_event_data",
          item: { type: "contact_tag", created_at: createdAt, tag: { type: "tag", id: "7", name: "vip" }, contact }
        }
      }
      : { ...envelope, topic: "contact.user.created", data: { type: "notification_event_data", item: contact } }
  )
}

/**
 * Asserts that every id of `sent` (in the order the receiver took them) reached the target, and that for each key the
 * sequence of first successful deliveries is the order they were sent in: a notification is delivered again only
 * after it was delivered (a resend after a timeout or a restart), never before an earlier one of its key.
 */
export const assertOrderPerKey = (
  sent: ReadonlyArray<{ readonly id: string; readonly key: string }>,
  exchanges: ReadonlyArray<Exchange>
) => {
  const keys = new Map(sent.map(({ id, key }) => [id, key]))
  const firsts = firstDeliveries(exchanges, (id) => keys.get(id) ?? "unknown")
  const shown = delivered(exchanges).map(({ id }) => `${id}@${keys.get(id!)}`).join(" ")
  assert.isFalse(firsts.has("unknown"), `the target got an id never sent: ${shown}`)
  const expected = new Map<string, Array<string>>()
  for (const { id, key } of sent) expected.set(key, [...(expected.get(key) ?? []), id])
  for (const [key, ids] of expected) {
    assert.deepStrictEqual(firsts.get(key) ?? [], ids, `first deliveries of ${key} (all successes: ${shown})`)
  }
}

/** For each key, the ids of its first successful deliveries, in the order the target got them. */
export const firstDeliveries = (
  exchanges: ReadonlyArray<Exchange>,
  keyOf: (id: string) => string
): ReadonlyMap<string, ReadonlyArray<string>> => {
  const seen = new Set<string>()
  const byKey = new Map<string, Array<string>>()
  for (const { id } of delivered(exchanges)) {
    if (id === undefined || seen.has(id)) continue
    seen.add(id)
    const key = keyOf(id)
    byKey.set(key, [...(byKey.get(key) ?? []), id])
  }
  return byKey
}

/**
 * Among the exchanges the target answered (hangs left out: the target cannot tell when the sender gave up on them),
 * the most that were in flight at one moment, and the pairs of one key that were in flight at the same moment.
 */
export const overlaps = (exchanges: ReadonlyArray<Exchange>, keyOf: (id: string) => string) => {
  const answered = exchanges.filter((exchange) => exchange.answeredAt !== undefined)
  let most = 0
  const sameKey: Array<string> = []
  for (const exchange of answered) {
    const during = answered.filter((other) =>
      other.receivedAt <= exchange.receivedAt && other.answeredAt! > exchange.receivedAt
    )
    most = Math.max(most, during.length)
    for (const other of during) {
      if (other !== exchange && keyOf(other.id!) === keyOf(exchange.id!)) sameKey.push(`${other.id} and ${exchange.id}`)
    }
  }
  return { most, sameKey }
}
