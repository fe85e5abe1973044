import { Either } from "effect"
import type { Decoded } from "../pipeline/Notification.js"

/**
 * What a notification changes in the mirror tables: rows computed from the decoded notification, the same for both
 * API generations, before any store is touched. Each row carries its version (the item's `updated_at`, then the
 * notification's `created_at`) so a store can keep a newer state from being overwritten by an older one.
 */
export interface Version {
  /** The item's `updated_at`, unix seconds. */
  readonly updatedAt: number | null
  /** The notification's `created_at`, unix seconds. */
  readonly notifiedAt: number | null
}

export interface ContactRow extends Version {
  readonly id: string
  readonly role: "user" | "lead" | null
  readonly externalId: string | null
  readonly email: string | null
  readonly name: string | null
  readonly createdAt: number | null
  /** The item as received, JSON. */
  readonly data: string
}

export interface ConversationRow extends Version {
  readonly id: string
  readonly state: string | null
  readonly open: boolean | null
  readonly adminAssigneeId: string | null
  readonly teamAssigneeId: string | null
  readonly createdAt: number | null
  readonly data: string
}

export interface TagLink {
  readonly contactId: string
  readonly tagId: string
  readonly tagName: string | null
  readonly taggedAt: number | null
}

export type MirrorChange =
  | { readonly _tag: "UpsertContact"; readonly row: ContactRow }
  /** Marks the contact deleted at `deletedAt`, keeping its row; makes a row from `row` when there is none. */
  | { readonly _tag: "DeleteContact"; readonly row: ContactRow; readonly deletedAt: number | null }
  | { readonly _tag: "UpsertConversation"; readonly row: ConversationRow }
  | { readonly _tag: "LinkTag"; readonly link: TagLink }

type Item = { readonly [key: string]: unknown }

const isItem = (value: unknown): value is Item => typeof value === "object" && value !== null && !Array.isArray(value)

const text = (value: unknown): string | null =>
  typeof value === "string" ? value : typeof value === "number" && Number.isFinite(value) ? String(value) : null

/** Unix seconds from either form Intercom sends: a number of seconds or an ISO-8601 string. */
export const unixSeconds = (value: unknown): number | null => {
  if (typeof value === "number" && Number.isFinite(value)) return Math.floor(value)
  if (typeof value !== "string") return null
  const at = Date.parse(value)
  return Number.isNaN(at) ? null : Math.floor(at / 1000)
}

/** The item as JSON, or why it cannot be stored (nesting too deep to serialise). */
const json = (item: Item): Either.Either<string, string> => {
  try {
    return Either.right(JSON.stringify(item))
  } catch (error) {
    return Either.left(`the item cannot be stored as JSON: ${(error as Error).message}`)
  }
}

/** `role` for 2.x contacts; legacy items say it with their kind (`user`; `lead`, or `contact` for a legacy lead). */
const roleOf = (item: Item): "user" | "lead" | null => {
  if (item.role === "user" || item.role === "lead") return item.role
  if (item.type === "user") return "user"
  if (item.type === "lead" || item.type === "contact") return "lead"
  return null
}

const contactRow = (item: Item, notifiedAt: number | null): Either.Either<ContactRow, string> =>
  Either.map(json(item), (data) => ({
    id: text(item.id)!,
    role: roleOf(item),
    externalId: text(item.external_id) ?? text(item.user_id),
    email: text(item.email),
    name: text(item.name),
    createdAt: unixSeconds(item.created_at),
    updatedAt: unixSeconds(item.updated_at),
    notifiedAt,
    data
  }))

/** 2.x conversations name their assignees by id; legacy ones carry an `assignee` object of kind admin or team. */
const assignees = (item: Item): { readonly admin: string | null; readonly team: string | null } => {
  const assignee = isItem(item.assignee) ? item.assignee : undefined
  return {
    admin: text(item.admin_assignee_id) ?? (assignee?.type === "admin" ? text(assignee.id) : null),
    team: text(item.team_assignee_id) ?? (assignee?.type === "team" ? text(assignee.id) : null)
  }
}

const conversationRow = (item: Item, notifiedAt: number | null): Either.Either<ConversationRow, string> =>
  Either.map(json(item), (data) => {
    const { admin, team } = assignees(item)
    const open = typeof item.open === "boolean" ? item.open : null
    return {
      id: text(item.id)!,
      state: text(item.state) ?? (open === null ? null : open ? "open" : "closed"),
      open,
      adminAssigneeId: admin,
      teamAssigneeId: team,
      createdAt: unixSeconds(item.created_at),
      updatedAt: unixSeconds(item.updated_at),
      notifiedAt,
      data
    }
  })

const hasId = (value: unknown): value is Item => isItem(value) && text(value.id) !== null

const PEOPLE = ["contact", "user", "lead"]

/**
 * The changes one decoded notification makes, or why the mirror cannot take it (an item of a kind it has no columns
 * for, or without an id): that becomes the mirror's dead letter.
 */
export const mirrorChanges = (decoded: Decoded, notifiedAt: number | null): Either.Either<
  ReadonlyArray<MirrorChange>,
  string
> => {
  const item: Item = decoded.value.data.item
  const kind = typeof item.type === "string" ? item.type : String(item.type)
  const unknownKind = Either.left(`the mirror has no columns for a ${decoded.topic} item of kind ${kind}`)
  switch (decoded.topic) {
    case "ping":
      return Either.right([])
    case "contacts.created":
      if (!PEOPLE.includes(kind) || !hasId(item)) return unknownKind
      return Either.map(contactRow(item, notifiedAt), (row) => [{ _tag: "UpsertContact", row }])
    case "contacts.deleted":
      if (!PEOPLE.includes(kind) || !hasId(item)) return unknownKind
      return Either.map(contactRow(item, notifiedAt), (row) => [{ _tag: "DeleteContact", row, deletedAt: notifiedAt }])
    case "contacts.tagCreated": {
      const person = item.contact ?? item.user
      const tag = item.tag
      if ((kind !== "contact_tag" && kind !== "user_tag") || !hasId(person) || !hasId(tag)) return unknownKind
      const link: MirrorChange = {
        _tag: "LinkTag",
        link: {
          contactId: text(person.id)!,
          tagId: text(tag.id)!,
          tagName: text(tag.name),
          taggedAt: unixSeconds(item.created_at) ?? unixSeconds(tag.applied_at) ?? notifiedAt
        }
      }
      return Either.map(contactRow(person, notifiedAt), (row) => [{ _tag: "UpsertContact", row }, link])
    }
    case "conversations.assigned":
    case "conversations.closed":
    case "conversations.created":
      if (kind !== "conversation" || !hasId(item)) return unknownKind
      return Either.map(conversationRow(item, notifiedAt), (row) => [{ _tag: "UpsertConversation", row }])
  }
}
