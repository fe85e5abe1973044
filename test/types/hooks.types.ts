/**
 * Type-level checks of the hooks, run by `npm run typecheck` (part of `npm test`): each `@ts-expect-error` must stay an
 * error, or the type check fails.
 */
import { Schema } from "effect"
import { Conversation } from "../../src/generated/index.js"
import { createWebhookHandler } from "../../src/web.js"

const isConversation = Schema.is(Conversation)

export const handler = createWebhookHandler({
  secret: "secret",
  hooks: {
    "conversations.closed": (notification, context) => {
      const topic: "conversations.closed" = notification.topic as "conversations.closed"
      const intercomTopic: string = context.intercomTopic
      const item = notification.data.item
      if (!isConversation(item)) return [topic, intercomTopic]
      const open: boolean | null | undefined = item.open
      // @ts-expect-error a closed conversation's item has no email: the schema has no such field
      return [open, item.email]
    },
    "contacts.deleted": async (notification) => {
      // @ts-expect-error a notification's id is a string or null, never a number
      const id: number = notification.id
      return id
    },
    "*": (notification) => {
      // @ts-expect-error the catch-all gets the body as unknown: narrow it before reading
      return notification.topic
    },
    // @ts-expect-error hooks are keyed by canonical topic: Intercom's topic strings are not keys
    "conversation.admin.closed": () => undefined
  }
})
