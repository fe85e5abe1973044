/**
 * The fake's state and how it renders as Intercom's JSON, following the schemas `contact`, `conversation`,
 * `conversation_list_item`, `tag` and `error` of the pinned description (test/fixtures/intercom-openapi).
 */

export type Json = { readonly [key: string]: unknown }

export interface TagState {
  readonly id: string
  readonly name: string
}

export interface AppliedTag {
  readonly tagId: string
  readonly appliedAt: number
  readonly appliedBy: number
}

export interface ContactState {
  readonly id: string
  readonly createdAt: number
  updatedAt: number
  role: "user" | "lead"
  externalId: string | null
  email: string
  name: string | null
  ownerId: number | null
  tags: Array<AppliedTag>
  deleted: boolean
}

export type ConversationStatus = "open" | "closed" | "snoozed"

export interface ConversationState {
  readonly id: string
  readonly createdAt: number
  updatedAt: number
  readonly contactIds: ReadonlyArray<string>
  readonly sourceId: string
  readonly body: string
  title: string | null
  state: ConversationStatus
  snoozedUntil: number | null
  adminAssigneeId: number | null
  teamAssigneeId: number | null
  read: boolean
  tags: Array<AppliedTag>
}

export const WORKSPACE_ID = "fake0001"

const emailDomain = (email: string) => email.slice(email.indexOf("@") + 1)

export const renderContact = (contact: ContactState): Json => ({
  type: "contact",
  id: contact.id,
  workspace_id: WORKSPACE_ID,
  external_id: contact.externalId,
  role: contact.role,
  email: contact.email,
  email_domain: emailDomain(contact.email),
  phone: null,
  name: contact.name,
  owner_id: contact.ownerId,
  has_hard_bounced: false,
  marked_email_as_spam: false,
  unsubscribed_from_emails: false,
  created_at: contact.createdAt,
  updated_at: contact.updatedAt,
  signed_up_at: contact.role === "user" ? contact.createdAt : null,
  last_seen_at: null,
  last_replied_at: null,
  last_contacted_at: null,
  last_email_opened_at: null,
  last_email_clicked_at: null,
  language_override: null,
  browser: null,
  browser_version: null,
  browser_language: null,
  os: null,
  android_app_name: null,
  android_app_version: null,
  android_device: null,
  android_os_version: null,
  android_sdk_version: null,
  android_last_seen_at: null,
  ios_app_name: null,
  ios_app_version: null,
  ios_device: null,
  ios_os_version: null,
  ios_sdk_version: null,
  ios_last_seen_at: null,
  custom_attributes: {},
  avatar: null,
  tags: {
    data: contact.tags.map((tag) => ({ type: "tag", id: tag.tagId, url: `/tags/${tag.tagId}` })),
    url: `/contacts/${contact.id}/tags`,
    total_count: contact.tags.length,
    has_more: false
  },
  notes: { data: [], url: `/contacts/${contact.id}/notes`, total_count: 0, has_more: false },
  companies: { data: [], url: `/contacts/${contact.id}/companies`, total_count: 0, has_more: false },
  location: { type: "location", country: null, region: null, city: null },
  social_profiles: { data: [] }
})

const renderTags = (tags: ReadonlyArray<AppliedTag>, names: ReadonlyMap<string, TagState>) => ({
  type: "tag.list",
  tags: tags.map((tag) => ({
    type: "tag",
    id: tag.tagId,
    name: names.get(tag.tagId)?.name ?? "",
    applied_at: tag.appliedAt,
    applied_by: { type: "admin", id: String(tag.appliedBy) }
  }))
})

export const renderConversation = (
  conversation: ConversationState,
  contacts: ReadonlyMap<string, ContactState>,
  tags: ReadonlyMap<string, TagState>,
  withParts: boolean
): Json => {
  const author = contacts.get(conversation.contactIds[0] ?? "")
  return {
    type: "conversation",
    id: conversation.id,
    title: conversation.title,
    created_at: conversation.createdAt,
    updated_at: conversation.updatedAt,
    waiting_since: conversation.state === "open" && conversation.adminAssigneeId === null
      ? conversation.createdAt
      : null,
    snoozed_until: conversation.snoozedUntil,
    open: conversation.state !== "closed",
    state: conversation.state,
    read: conversation.read,
    priority: "not_priority",
    admin_assignee_id: conversation.adminAssigneeId,
    team_assignee_id: conversation.teamAssigneeId,
    tags: renderTags(conversation.tags, tags),
    conversation_rating: null,
    source: {
      type: "conversation",
      id: conversation.sourceId,
      delivered_as: "customer_initiated",
      subject: "",
      body: conversation.body,
      author: {
        type: author?.role ?? "user",
        id: author?.id ?? "",
        name: author?.name ?? null,
        email: author?.email ?? "unknown@example.com"
      },
      attachments: [],
      url: null,
      redacted: false
    },
    contacts: {
      type: "contact.list",
      contacts: conversation.contactIds.map((id) => ({
        type: "contact",
        id,
        external_id: contacts.get(id)?.externalId ?? null
      }))
    },
    teammates: {
      type: "admin.list",
      teammates: conversation.adminAssigneeId === null
        ? []
        : [{ type: "admin", id: String(conversation.adminAssigneeId) }]
    },
    custom_attributes: {},
    first_contact_reply: null,
    sla_applied: null,
    statistics: null,
    ...(withParts
      ? { conversation_parts: { type: "conversation_part.list", conversation_parts: [], total_count: 0 } }
      : {}),
    linked_objects: { type: "list", total_count: 0, has_more: false, data: [] },
    ai_agent_participated: false,
    ai_agent: null
  }
}

export const renderTag = (tag: TagState): Json => ({ type: "tag", id: tag.id, name: tag.name })

export const renderError = (code: string, message: string): Json => ({
  type: "error.list",
  request_id: crypto.randomUUID(),
  errors: [{ code, message }]
})
