import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { type MirrorChange, mirrorChanges, unixSeconds } from "../src/mirror/Rows.js"
import { decodeNotification } from "../src/pipeline/Notification.js"
import { verifiedBeforeStoring } from "../src/pipeline/Signature.js"
import { loadFixtures } from "./support/Fixtures.js"

const fixtures = loadFixtures()

const changesOf = (json: unknown) => {
  const notification = Effect.runSync(
    decodeNotification(verifiedBeforeStoring(Buffer.from(JSON.stringify(json))), new Date())
  )
  assert.isDefined(notification.decoded, notification.schemaMismatch)
  return mirrorChanges(notification.decoded!, unixSeconds((json as { created_at?: unknown }).created_at))
}

const changes = (topic: string, file: string): ReadonlyArray<MirrorChange> => {
  const fixture = fixtures.find((candidate) => candidate.topic === topic && candidate.file === file)
  assert.isDefined(fixture, `${topic}/${file}`)
  return Either.getOrThrow(changesOf(fixture!.json))
}

describe("mirror rows from both API generations", () => {
  it("unix seconds from integers and ISO strings alike", () => {
    assert.strictEqual(unixSeconds(1601553600), 1601553600)
    assert.strictEqual(unixSeconds("2026-01-10T04:22:28.240+00:00"), 1768018948)
    assert.strictEqual(unixSeconds("2026-01-10T04:22:28Z"), 1768018948)
    assert.isNull(unixSeconds(null))
    assert.isNull(unixSeconds("not a date"))
  })

  it("a legacy user: role user, external id from user_id, integer timestamps", () => {
    const [change] = changes("contacts.created", "legacy-user-created.json")
    assert.strictEqual(change!._tag, "UpsertContact")
    const row = (change as Extract<MirrorChange, { _tag: "UpsertContact" }>).row
    assert.strictEqual(row.role, "user")
    assert.strictEqual(row.externalId, "legacy-7731")
    assert.strictEqual(row.email, "grace@example.com")
    assert.isNumber(row.createdAt)
    assert.deepStrictEqual(JSON.parse(row.data).type, "user")
  })

  it("every contact item, of every generation, gives one row with an id, a role and its timestamps as integers", () => {
    for (const fixture of fixtures.filter((candidate) => candidate.topic === "contacts.created")) {
      const [change] = Either.getOrThrow(changesOf(fixture.json))
      assert.strictEqual(change!._tag, "UpsertContact", fixture.file)
      const row = (change as Extract<MirrorChange, { _tag: "UpsertContact" }>).row
      assert.include(["user", "lead"], row.role, fixture.file)
      const item = (fixture.json as { data: { item: { id: string; created_at?: unknown } } }).data.item
      assert.strictEqual(row.id, item.id)
      if (item.created_at !== null && item.created_at !== undefined) assert.isTrue(Number.isInteger(row.createdAt))
    }
  })

  it("a deletion keeps the row and says when, from the notification's created_at", () => {
    for (const fixture of fixtures.filter((candidate) => candidate.topic === "contacts.deleted")) {
      const [change] = Either.getOrThrow(changesOf(fixture.json))
      assert.strictEqual(change!._tag, "DeleteContact", fixture.file)
      const created = (fixture.json as { created_at?: number }).created_at
      assert.strictEqual((change as Extract<MirrorChange, { _tag: "DeleteContact" }>).deletedAt, created ?? null)
    }
  })

  it("a tag on a contact or a legacy user links the tag and upserts the person", () => {
    for (const fixture of fixtures.filter((candidate) => candidate.topic === "contacts.tagCreated")) {
      const found = Either.getOrThrow(changesOf(fixture.json))
      assert.deepStrictEqual(found.map((change) => change._tag), ["UpsertContact", "LinkTag"], fixture.file)
      const link = (found[1] as Extract<MirrorChange, { _tag: "LinkTag" }>).link
      const item =
        (fixture.json as { data: { item: { tag: { id: string }; contact?: { id: string }; user?: { id: string } } } })
          .data.item
      assert.strictEqual(link.tagId, item.tag.id)
      assert.strictEqual(link.contactId, (item.contact ?? item.user)!.id)
    }
  })

  it("a legacy conversation's assignee object and a 2.x conversation's assignee ids land in the same columns", () => {
    const [legacy] = changes("conversations.assigned", "legacy-conversation-admin-assigned.json")
    const legacyRow = (legacy as Extract<MirrorChange, { _tag: "UpsertConversation" }>).row
    assert.strictEqual(legacyRow.adminAssigneeId, "5801234")
    assert.strictEqual(legacyRow.state, "open")
    assert.isTrue(legacyRow.open)
    const [current] = changes("conversations.assigned", "conversation-admin-assigned.json")
    const currentRow = (current as Extract<MirrorChange, { _tag: "UpsertConversation" }>).row
    assert.strictEqual(currentRow.adminAssigneeId, "5809876")
    assert.strictEqual(currentRow.teamAssigneeId, "7310")
  })

  it("an item of a kind the mirror has no columns for is refused, saying which", () => {
    const ping = fixtures.find((fixture) => fixture.topic === "contacts.created")!.json as object
    const result = changesOf({ ...ping, data: { item: { type: "visitor", id: "v1" } } })
    assert.isTrue(Either.isLeft(result))
    assert.include(Either.getLeft(result).pipe((left) => left._tag === "Some" ? left.value : ""), "visitor")
  })
})
