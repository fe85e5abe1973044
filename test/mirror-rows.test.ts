import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { type MirrorChange, mirrorChanges, unixSeconds, versionSeconds } from "../src/mirror/Rows.js"
import { storableJson, storableText } from "../src/mirror/Storable.js"
import { decodeNotification } from "../src/pipeline/Notification.js"
import { verifiedBeforeStoring } from "../src/pipeline/Signature.js"
import { loadFixtures } from "./support/Fixtures.js"

const fixtures = loadFixtures()

/** When the notifications of these tests are received: 2026-03-01T00:00:00Z, after every fixture's times. */
const RECEIVED = new Date("2026-03-01T00:00:00Z")
const RECEIVED_SECONDS = 1772323200

const changesOf = (json: unknown, receivedAt = RECEIVED) => {
  const notification = Effect.runSync(
    decodeNotification(verifiedBeforeStoring(Buffer.from(JSON.stringify(json))), receivedAt)
  )
  assert.isDefined(notification.decoded, notification.schemaMismatch)
  return mirrorChanges(notification.decoded!, receivedAt)
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

  it("a deletion keeps the row and says when, from the notification's created_at, else when it was received", () => {
    for (const fixture of fixtures.filter((candidate) => candidate.topic === "contacts.deleted")) {
      const [change] = Either.getOrThrow(changesOf(fixture.json))
      assert.strictEqual(change!._tag, "DeleteContact", fixture.file)
      const created = (fixture.json as { created_at?: number }).created_at
      assert.strictEqual(
        (change as Extract<MirrorChange, { _tag: "DeleteContact" }>).deletedAt,
        created ?? RECEIVED_SECONDS,
        fixture.file
      )
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

describe("mirror times: seconds, milliseconds or ISO-8601, 1970 to 9999, versions at most 24 h ahead", () => {
  it("reads each form as the rule says, and anything else as absent", () => {
    const cases: ReadonlyArray<readonly [unknown, number | null]> = [
      [0, 0],
      [-0, 0],
      [1e-7, 0],
      [1767225600.9, 1767225600],
      [253402300799, 253402300799],
      [253402300800, null],
      [999999999999, null],
      [1e12, 1e9],
      [1767225600000, 1767225600],
      [1767225600999, 1767225600],
      [253402300799999, 253402300799],
      [253402300800000, null],
      [1e19, null],
      [1e300, null],
      [-1, null],
      [-1767225600000, null],
      [Number.NaN, null],
      [Number.POSITIVE_INFINITY, null],
      ["1970-01-01T00:00:00Z", 0],
      ["2026-01-10T04:22:28.240+00:00", 1768018948],
      ["2026-01-10T04:22:28Z", 1768018948],
      ["2026-01-10T04:22:28", 1768018948],
      ["2026-01-10T05:22:28+01:00", 1768018948],
      ["2026-01-10T05:22:28+0100", 1768018948],
      ["2026-01-10T03:22:28-01:00", 1768018948],
      ["2026-01-10T04:22", 1768018920],
      ["2026-01-10", 1768003200],
      ["2028-02-29T00:00:00Z", 1835395200],
      ["9999-12-31T23:59:59Z", 253402300799],
      ["9999-12-31T23:59:59-00:01", null],
      ["1969-12-31T23:59:59Z", null],
      ["0070-01-01T00:00:00Z", null],
      ["+275760-09-13T00:00:00Z", null],
      ["2026-02-30T00:00:00Z", null],
      ["2027-02-29T00:00:00Z", null],
      ["2026-13-01T00:00:00Z", null],
      ["2026-01-10T24:00:00Z", null],
      ["2026-01-10T04:60:00Z", null],
      ["2026-01-10T04:22:28+24:00", null],
      ["2026-01-10 04:22:28Z", null],
      ["1", null],
      ["1767225600", null],
      ["soon", null],
      ["", null],
      [true, null],
      [null, null],
      [undefined, null],
      [{ seconds: 1 }, null]
    ]
    for (const [value, seconds] of cases) assert.strictEqual(unixSeconds(value), seconds, String(value))
  })

  it("a version more than 24 hours after the notification was received does not count", () => {
    const received = 1767225600
    assert.strictEqual(versionSeconds(received + 86400, received), received + 86400)
    assert.isNull(versionSeconds(received + 86401, received))
    assert.strictEqual(versionSeconds(1e12, received), 1e9)
    assert.isNull(versionSeconds("9999-12-31T23:59:59Z", received))
    assert.isNull(versionSeconds(1e300, received))
  })

  it("the notification's time is its created_at when that is a version, else when it was received", () => {
    const json = fixtures.find((fixture) => fixture.file === "contact-user-created.json")!.json as Record<
      string,
      unknown
    >
    const timeOf = (createdAt: unknown) => {
      const [change] = Either.getOrThrow(changesOf({ ...json, created_at: createdAt }))
      return (change as Extract<MirrorChange, { _tag: "UpsertContact" }>).row.notifiedAt
    }
    assert.strictEqual(timeOf(1768000000), 1768000000)
    assert.strictEqual(timeOf(1768000000000), 1768000000)
    assert.strictEqual(timeOf(RECEIVED_SECONDS + 86400), RECEIVED_SECONDS + 86400)
    assert.strictEqual(timeOf(RECEIVED_SECONDS + 86401), RECEIVED_SECONDS)
    assert.strictEqual(timeOf(1e300), RECEIVED_SECONDS)
    assert.strictEqual(timeOf(null), RECEIVED_SECONDS)
  })
})

describe("mirror values every store keeps", () => {
  it("text: NUL and unpaired surrogates become U+FFFD, pairs stay", () => {
    assert.strictEqual(storableText("a\u0000b"), "a\ufffdb")
    assert.strictEqual(storableText("\ud800"), "\ufffd")
    assert.strictEqual(storableText("\udc00\ud800"), "\ufffd\ufffd")
    assert.strictEqual(storableText("\ud83d\ude00"), "😀")
    assert.strictEqual(storableText("\ud83d\ud83d\ude00"), "\ufffd😀")
    assert.strictEqual(storableText("\ud83d\ude00\ude00"), "😀\ufffd")
    assert.strictEqual(storableText("plain €"), "plain €")
  })

  it("JSON: keys and strings at any depth repaired, nesting cut after 64 levels, a clean value left as it is", () => {
    const clean = { a: [1, "x", { b: null, c: true }], d: -1.5e300 }
    assert.strictEqual(storableJson(clean), clean)
    assert.deepStrictEqual(storableJson({ "k\u0000": ["\ud800", { z: "\u0000" }], n: 1 }), {
      "k\ufffd": ["\ufffd", { z: "\ufffd" }],
      n: 1
    })
    // A key `__proto__` from JSON is a key, also in a repaired copy.
    const parsed = JSON.parse("{\"__proto__\":{\"x\":1},\"y\":\"\\u0000\"}")
    assert.strictEqual(JSON.stringify(storableJson(parsed)), "{\"__proto__\":{\"x\":1},\"y\":\"\ufffd\"}")
    // Two keys that become one: the later wins, as in JSON.parse.
    assert.strictEqual(JSON.stringify(storableJson(JSON.parse("{\"a\\u0000\":1,\"a\\ufffd\":2}"))), "{\"a\ufffd\":2}")
    let deep: unknown = "leaf"
    for (let level = 0; level < 100; level++) deep = [deep]
    let kept = storableJson(deep)
    for (let level = 0; level <= 64; level++) kept = (kept as Array<unknown>)[0]
    assert.isNull(kept, "the array at level 65 is null")
  })

  it("ids: 1 to 255 characters (a surrogate pair is one), no NUL or unpaired surrogate", () => {
    const json = fixtures.find((fixture) => fixture.file === "contact-user-created.json")!.json as {
      data: { item: object }
    }
    const withId = (id: string) => changesOf({ ...json, data: { ...json.data, item: { ...json.data.item, id } } })
    const reason = (id: string) => Either.getLeft(withId(id)).pipe((left) => left._tag === "Some" ? left.value : "")
    assert.isTrue(Either.isRight(withId("x".repeat(255))))
    assert.isTrue(Either.isRight(withId("😀".repeat(255))))
    assert.strictEqual(reason(""), "the contact id is empty")
    assert.strictEqual(reason("x".repeat(256)), "the contact id is longer than 255 characters")
    assert.strictEqual(reason(`${"😀".repeat(255)}x`), "the contact id is longer than 255 characters")
    assert.strictEqual(reason("a\u0000"), "the contact id holds a NUL character or an unpaired surrogate")
    assert.strictEqual(reason("a\udc00"), "the contact id holds a NUL character or an unpaired surrogate")
  })
})
