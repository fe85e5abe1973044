import { Effect } from "effect"
import type { HandlerMap } from "../index.js"

/** Typed handlers: each argument is typed by the topic's generated schema. */
export const handlers = {
  "contacts.created": (notification) => {
    const contact = notification.data.item
    return Effect.logInfo(`new ${contact.type} ${contact.id}`).pipe(
      Effect.annotateLogs("email", contact.email ?? "unknown")
    )
  },
  "conversations.closed": (notification) =>
    Effect.logInfo(`conversation ${notification.data.item.id} closed`).pipe(
      Effect.annotateLogs("state", notification.data.item.state ?? "unknown")
    )
} satisfies HandlerMap
