import { Effect, Schema } from "effect"
import { Contact, Conversation, type HandlerMap, User } from "../index.js"

const isPerson = Schema.is(Schema.Union(Contact, User))
const isConversation = Schema.is(Conversation)

/**
 * Typed handlers: each argument is typed by the topic's generated schema. An item may be of a kind the fixtures never
 * showed (`OtherKind`, only its `type` known): narrow with `Schema.is` before reading the fields of a known kind.
 */
export const handlers = {
  "contacts.created": (notification) => {
    const item = notification.data.item
    return isPerson(item)
      ? Effect.logInfo(`new ${item.type} ${item.id}`).pipe(Effect.annotateLogs("email", item.email ?? "unknown"))
      : Effect.logWarning(`contacts.created with an item of kind ${item.type}`)
  },
  "conversations.closed": (notification) => {
    const item = notification.data.item
    return isConversation(item)
      ? Effect.logInfo(`conversation ${item.id} closed`).pipe(Effect.annotateLogs("state", item.state ?? "unknown"))
      : Effect.logWarning(`conversations.closed with an item of kind ${item.type}`)
  }
} satisfies HandlerMap
