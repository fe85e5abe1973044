import { Schema } from "effect"
import { Contact, Conversation, User } from "intercom-webhook-receiver/schemas"
import type { HookContext, Hooks } from "intercom-webhook-receiver/web"

const isPerson = Schema.is(Schema.Union(Contact, User))
const isConversation = Schema.is(Conversation)

/** What a hook hands on: to DOWNSTREAM_URL when it is set (failing unless it answers 2xx), else to the log. */
const handOn = async (hook: string, context: HookContext, detail: Record<string, unknown> = {}) => {
  const event = { hook, id: context.id, intercomTopic: context.intercomTopic, itemId: context.itemId, ...detail }
  const downstream = process.env.DOWNSTREAM_URL
  if (downstream === undefined) return console.log(JSON.stringify(event))
  const response = await fetch(downstream, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(event)
  })
  if (!response.ok) throw new Error(`downstream answered ${response.status}`)
}

/**
 * Each hook's argument is typed by its topic's schema. An item may be of a kind the schemas have not seen: narrow it
 * with `Schema.is(Contact)` (from `intercom-webhook-receiver/schemas`) before reading the fields of a known kind.
 */
export const hooks: Hooks = {
  "contacts.created": (notification, context) => {
    const item = notification.data.item
    return handOn("contacts.created", context, { email: isPerson(item) ? item.email ?? null : null })
  },
  "contacts.deleted": (_notification, context) => handOn("contacts.deleted", context),
  "contacts.tagCreated": (_notification, context) => handOn("contacts.tagCreated", context),
  "conversations.assigned": (_notification, context) => handOn("conversations.assigned", context),
  "conversations.closed": (notification, context) => {
    const item = notification.data.item
    return handOn("conversations.closed", context, { state: isConversation(item) ? item.state ?? null : null })
  },
  "conversations.created": (_notification, context) => handOn("conversations.created", context),
  "ping": (_notification, context) => handOn("ping", context),
  "*": (_body, context) => handOn("*", context)
}
