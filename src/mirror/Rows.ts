import { Either } from "effect"
import type { Decoded } from "../pipeline/Notification.js"
import { isStorable } from "../store/StorableText.js"
import { storableJson, storableText } from "./Storable.js"
import { unixSeconds, versionSeconds } from "./Times.js"

export { unixSeconds, versionSeconds } from "./Times.js"

/**
 * What a notification changes in the mirror tables: rows computed from the decoded notification, the same for both
 * API generations, before any store is touched, with values every store keeps (see `Storable`, `Times`). Each row
 * carries its version (the item's `updated_at`, then the notification's `created_at`) so a store can keep a newer
 * state from being overwritten by an older one.
 */
export interface Version {
  /** The item's `updated_at`, unix seconds; null when absent or not a version (see `versionSeconds`). */
  readonly updatedAt: number | null
  /** The notification's `created_at`, unix seconds, or when it was received if that is not a version. */
  readonly notifiedAt: number
}

export interface ContactRow extends Version {
  readonly id: string
  readonly role: "user" | "lead" | null
  readonly externalId: string | null
  readonly email: string | null
  readonly name: string | null
  readonly createdAt: number | null
  /** The item as received, JSON, made storable. */
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
  readonly taggedAt: number
}

export type MirrorChange =
  | { readonly _tag: "UpsertContact"; readonly row: ContactRow }
  /** Marks the contact deleted at `deletedAt`, keeping its row; makes a row from `row` when there is none. */
  | { readonly _tag: "DeleteContact"; readonly row: ContactRow; readonly deletedAt: number }
  | { readonly _tag: "UpsertConversation"; readonly row: ConversationRow }
  | { readonly _tag: "LinkTag"; readonly link: TagLink }

/** The longest contact, conversation or tag id the mirror takes, in characters (real ones have a few dozen). */
export const MAX_ID_LENGTH = 255

export type Item = { readonly [key: string]: unknown }

/** When the notification was received and its own time, unix seconds. */
export interface Times {
  readonly received: number
  readonly notifiedAt: number
}

export const isItem = (value: unknown): value is Item =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const text = (value: unknown): string | null =>
  typeof value === "string"
    ? storableText(value)
    : typeof value === "number" && Number.isFinite(value)
    ? String(value)
    : null

/** More than `max` characters, a surrogate pair counting as one. */
const longerThan = (value: string, max: number): boolean => {
  if (value.length <= max) return false
  if (value.length > 2 * max) return true
  let count = 0
  for (let index = 0; index < value.length; index += value.codePointAt(index)! > 0xffff ? 2 : 1) {
    if (++count > max) return true
  }
  return false
}

/**
 * An id as it is kept (a number as its text), or why the mirror refuses it. Ids are never rewritten: two ids that
 * differ only in what cannot be stored would become one row.
 */
export const idOf = (what: string, value: unknown): Either.Either<string, string> => {
  const id = typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined
  if (id === undefined) return Either.left(`the ${what} has no id`)
  if (id.length === 0) return Either.left(`the ${what} id is empty`)
  if (longerThan(id, MAX_ID_LENGTH)) return Either.left(`the ${what} id is longer than ${MAX_ID_LENGTH} characters`)
  if (!isStorable(id)) return Either.left(`the ${what} id holds a NUL character or an unpaired surrogate`)
  return Either.right(id)
}

/** The item as JSON, made storable, or why it cannot be stored. */
const json = (item: Item): Either.Either<string, string> => {
  try {
    return Either.right(JSON.stringify(storableJson(item)))
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

export const contactRow = (item: Item, times: Times): Either.Either<ContactRow, string> =>
  Either.flatMap(idOf("contact", item.id), (id) =>
    Either.map(json(item), (data) => ({
      id,
      role: roleOf(item),
      externalId: text(item.external_id) ?? text(item.user_id),
      email: text(item.email),
      name: text(item.name),
      createdAt: unixSeconds(item.created_at),
      updatedAt: versionSeconds(item.updated_at, times.received),
      notifiedAt: times.notifiedAt,
      data
    })))

/** 2.x conversations name their assignees by id; legacy ones carry an `assignee` object of kind admin or team. */
const assignees = (item: Item): { readonly admin: string | null; readonly team: string | null } => {
  const assignee = isItem(item.assignee) ? item.assignee : undefined
  return {
    admin: text(item.admin_assignee_id) ?? (assignee?.type === "admin" ? text(assignee.id) : null),
    team: text(item.team_assignee_id) ?? (assignee?.type === "team" ? text(assignee.id) : null)
  }
}

export const conversationRow = (item: Item, times: Times): Either.Either<ConversationRow, string> =>
  Either.flatMap(idOf("conversation", item.id), (id) =>
    Either.map(json(item), (data) => {
      const { admin, team } = assignees(item)
      const open = typeof item.open === "boolean" ? item.open : null
      return {
        id,
        state: text(item.state) ?? (open === null ? null : open ? "open" : "closed"),
        open,
        adminAssigneeId: admin,
        teamAssigneeId: team,
        createdAt: unixSeconds(item.created_at),
        updatedAt: versionSeconds(item.updated_at, times.received),
        notifiedAt: times.notifiedAt,
        data
      }
    }))

const PEOPLE = ["contact", "user", "lead"]

/**
 * The changes one decoded notification makes, or why the mirror cannot take it (an item of a kind it has no columns
 * for, an id missing, empty, too long or holding what no store keeps): that becomes the mirror's dead letter.
 * `receivedAt` bounds the versions (see `versionSeconds`) and stands for the notification's time when that is not one.
 */
export const mirrorChanges = (decoded: Decoded, receivedAt: Date): Either.Either<
  ReadonlyArray<MirrorChange>,
  string
> => {
  const received = Math.floor(receivedAt.getTime() / 1000)
  const times: Times = { received, notifiedAt: versionSeconds(decoded.value.created_at, received) ?? received }
  const item: Item = decoded.value.data.item
  const kind = typeof item.type === "string" ? item.type : String(item.type)
  const unknownKind = Either.left(`the mirror has no columns for a ${decoded.topic} item of kind ${kind}`)
  switch (decoded.topic) {
    case "ping":
      return Either.right([])
    case "contacts.created":
      if (!PEOPLE.includes(kind)) return unknownKind
      return Either.map(contactRow(item, times), (row) => [{ _tag: "UpsertContact", row }])
    case "contacts.deleted":
      if (!PEOPLE.includes(kind)) return unknownKind
      return Either.map(
        contactRow(item, times),
        (row) => [{ _tag: "DeleteContact", row, deletedAt: times.notifiedAt }]
      )
    case "contacts.tagCreated": {
      const person = item.contact ?? item.user
      const tag = item.tag
      if ((kind !== "contact_tag" && kind !== "user_tag") || !isItem(person) || !isItem(tag)) return unknownKind
      return Either.flatMap(
        idOf("tag", tag.id),
        (tagId) =>
          Either.map(contactRow(person, times), (row): ReadonlyArray<MirrorChange> => [
            { _tag: "UpsertContact", row },
            {
              _tag: "LinkTag",
              link: {
                contactId: row.id,
                tagId,
                tagName: text(tag.name),
                taggedAt: versionSeconds(item.created_at, received) ?? versionSeconds(tag.applied_at, received) ??
                  times.notifiedAt
              }
            }
          ])
      )
    }
    case "conversations.assigned":
    case "conversations.closed":
    case "conversations.created":
      if (kind !== "conversation") return unknownKind
      return Either.map(conversationRow(item, times), (row) => [{ _tag: "UpsertConversation", row }])
  }
}
