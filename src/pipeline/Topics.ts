import type { CanonicalTopic } from "../generated/index.js"

/** Every Intercom topic string we know, current (API 2.5+) and legacy, and the canonical topic it maps to. */
export const intercomTopics: Readonly<Record<string, CanonicalTopic>> = {
  "contact.user.created": "contacts.created",
  "contact.lead.created": "contacts.created",
  "user.created": "contacts.created",
  "contact.created": "contacts.created",
  "contact.deleted": "contacts.deleted",
  "user.deleted": "contacts.deleted",
  "contact.user.tag.created": "contacts.tagCreated",
  "contact.lead.tag.created": "contacts.tagCreated",
  "user.tag.created": "contacts.tagCreated",
  "contact.tag.created": "contacts.tagCreated",
  "conversation.admin.assigned": "conversations.assigned",
  "conversation.admin.open.assigned": "conversations.assigned",
  "conversation.admin.closed": "conversations.closed",
  "conversation.user.created": "conversations.created",
  "conversation.admin.single.created": "conversations.created",
  "ping": "ping",
  "contacts.created": "contacts.created",
  "contacts.deleted": "contacts.deleted",
  "contacts.tagCreated": "contacts.tagCreated",
  "conversations.assigned": "conversations.assigned",
  "conversations.closed": "conversations.closed",
  "conversations.created": "conversations.created"
}

/** The canonical topic of an Intercom topic string, or null for the topics this service has no schema for. */
export const canonicalTopic = (intercomTopic: string): CanonicalTopic | null =>
  Object.hasOwn(intercomTopics, intercomTopic) ? intercomTopics[intercomTopic]! : null
