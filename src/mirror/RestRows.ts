import { Either } from "effect"
import { contactRow, conversationRow, idOf, isItem, type Item, type MirrorChange } from "./Rows.js"
import { versionSeconds } from "./Times.js"

/**
 * What an object read from Intercom's REST API changes in the mirror: the same rows and version rule as a
 * notification's. Its state is the one at `fetchedAt` (unix seconds), which stands for the notification's time: a
 * notification of the same `updated_at` sent after the object was read wins, one sent before does not.
 */

/** A REST contact (with the ids of its tags; `names` gives their names) as an upsert and a link per tag. */
export const restContactChanges = (
  contact: unknown,
  names: ReadonlyMap<string, string>,
  fetchedAt: number
): Either.Either<ReadonlyArray<MirrorChange>, string> => {
  if (!isItem(contact)) return Either.left("the contact is not an object")
  return Either.flatMap(contactRow(contact, { received: fetchedAt, notifiedAt: fetchedAt }), (row) => {
    const changes: Array<MirrorChange> = [{ _tag: "UpsertContact", row }]
    const taggedAt = versionSeconds(contact.updated_at, fetchedAt) ?? fetchedAt
    const tags = isItem(contact.tags) && Array.isArray(contact.tags.data) ? contact.tags.data : []
    for (const tag of tags) {
      if (!isItem(tag)) continue
      const tagId = idOf("tag", tag.id)
      if (Either.isLeft(tagId)) return Either.left(tagId.left)
      changes.push({
        _tag: "LinkTag",
        link: { contactId: row.id, tagId: tagId.right, tagName: names.get(tagId.right) ?? null, taggedAt }
      })
    }
    return Either.right(changes)
  })
}

/** A REST conversation as an upsert. */
export const restConversationChanges = (
  conversation: unknown,
  fetchedAt: number
): Either.Either<ReadonlyArray<MirrorChange>, string> =>
  isItem(conversation)
    ? Either.map(
      conversationRow(conversation, { received: fetchedAt, notifiedAt: fetchedAt }),
      (row): ReadonlyArray<MirrorChange> => [{ _tag: "UpsertConversation", row }]
    )
    : Either.left("the conversation is not an object")

/** A contact the REST API answers 404 for: deleted at `foundAt`, the time it was found gone (the real one is unknown). */
export const goneContactChange = (id: string, workspaceId: string, foundAt: number): MirrorChange => {
  const item: Item = { type: "contact", id, workspace_id: workspaceId }
  return {
    _tag: "DeleteContact",
    row: {
      id,
      role: null,
      externalId: null,
      email: null,
      name: null,
      createdAt: null,
      updatedAt: null,
      notifiedAt: foundAt,
      data: JSON.stringify(item)
    },
    deletedAt: foundAt
  }
}
