import { assert, it } from "@effect/vitest"
import { Effect, FastCheck, Option, type Scope } from "effect"
import { eventually } from "./Eventually.js"
import { loadFixtures } from "./Fixtures.js"
import { startServer, type TestServerShape } from "./TestServer.js"

// Fixtures are edited freely by path in these tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>

const fixtures = loadFixtures()
/** A copy of a fixture's notification, to edit. */
export const template = (topic: string, file: string): Json =>
  structuredClone(fixtures.find((fixture) => fixture.topic === topic && fixture.file === file)!.json) as Json

/** The store under test: the settings that choose it and a way to read the mirror tables of a running server. */
export interface MirrorStore {
  readonly env: Record<string, string>
  readonly query: (server: TestServerShape, sql: string) => Effect.Effect<ReadonlyArray<Json>>
  /** Replaces the body of the dead letter of `notificationId`, as a newer version's schemas would read it anew. */
  readonly rewriteDeadLetter: (server: TestServerShape, notificationId: string, body: string) => Effect.Effect<void>
  /** Runs one statement that changes the store, beside the running server. */
  readonly exec: (server: TestServerShape, sql: string) => Effect.Effect<void>
  /** Makes the store refuse, as a value it cannot keep, any write of the contact `id` (a planted fault). */
  readonly refuseContact: (server: TestServerShape, id: string) => Effect.Effect<void>
  /** Forgets that the store's mirror versions were repaired, so the next start repairs them again. */
  readonly forgetVersionRepair: (server: TestServerShape) => Effect.Effect<void>
}

/** Same-shaped rows from either store: `open` a boolean, `data` parsed, numbers as numbers. */
const normalise = (row: Json): Json =>
  Object.fromEntries(
    Object.entries(row).map(([key, value]) => [
      key,
      key === "data" && typeof value === "string"
        ? JSON.parse(value)
        : key === "open" && typeof value === "number"
        ? value === 1
        : typeof value === "string" && /_at$/.test(key)
        ? Number(value)
        : value
    ])
  )

/** The rows of `table` matching `where`, normalised (see `normalise`). */
export const rows = (store: MirrorStore, server: TestServerShape, table: string, where: string) =>
  store.query(server, `SELECT * FROM ${table} WHERE ${where} ORDER BY 1, 2`).pipe(
    Effect.map((found) => found.map(normalise))
  )

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace("Z", "+00:00")

/** A notification from a fixture, about the object `objectId`, at version `at` (its item's updated_at and created_at). */
const event = (
  kind: "created" | "tagged" | "deleted" | "assigned" | "closed" | "opened",
  objectId: string,
  at: number
) => {
  const notification = kind === "created"
    ? template("contacts.created", "contact-user-created.json")
    : kind === "tagged"
    ? template("contacts.tagCreated", "contact-user-tag-created.json")
    : kind === "deleted"
    ? template("contacts.deleted", "contact-deleted.json")
    : kind === "assigned"
    ? template("conversations.assigned", "conversation-admin-assigned.json")
    : kind === "closed"
    ? template("conversations.closed", "conversation-admin-closed.json")
    : template("conversations.created", "conversation-user-created.json")
  notification.id = `notif_${kind}_${objectId}_${at}`
  notification.created_at = at
  const item = notification.data.item
  const person = kind === "tagged" ? item.contact : item
  person.id = objectId
  if (kind !== "deleted") person.updated_at = typeof person.updated_at === "string" ? iso(at) : at
  if (kind === "tagged") item.tag.id = `tag-${at % 3}`
  if (kind === "assigned") item.admin_assignee_id = String(at)
  return notification
}

/** A contact notification whose email is an object: the schema refuses it, so the mirror cannot apply it. */
const unreadable = (objectId: string, at: number) => {
  const notification = event("created", objectId, at)
  notification.data.item.email = { not: "a string" }
  return notification
}

const send = (server: TestServerShape, notification: Json) =>
  Effect.map(server.post(JSON.stringify(notification)), (answer) => {
    assert.strictEqual(answer.status, 200, answer.text)
    return answer
  })

/**
 * The mirror's behaviour, the same whichever store is behind it (`store` chooses it, once per test): rows from both
 * API generations, the ordering rules, exactly-once application, dead letters.
 */
export const mirrorSuite = (store: Effect.Effect<MirrorStore, never, Scope.Scope>) => {
  it.scopedLive("a contact's life and a conversation's, in order: the rows say what the last notification said", () =>
    Effect.gen(function*() {
      const mirror = yield* store
      const server = yield* startServer({ ...mirror.env, SINKS: "file,mirror" })
      for (const notification of [event("created", "c1", 1000), event("tagged", "c1", 1010)]) {
        const answer = yield* send(server, notification)
        assert.deepStrictEqual(answer.json.sinks, ["file", "mirror"])
        assert.deepStrictEqual(answer.json.queued, [], "applied with the accept, not queued")
      }
      const [contact] = yield* rows(mirror, server, "intercom_contacts", "id = 'c1'")
      assert.strictEqual(contact!.role, "user")
      assert.strictEqual(contact!.email, event("created", "c1", 1000).data.item.email)
      assert.strictEqual(contact!.updated_at, 1010)
      assert.isNull(contact!.deleted_at)
      const tags = yield* rows(mirror, server, "intercom_contact_tags", "contact_id = 'c1'")
      assert.deepStrictEqual(tags.map((tag) => [tag.tag_id, tag.tagged_at]), [["tag-2", tags[0]!.tagged_at]])

      yield* send(server, event("deleted", "c1", 1020))
      const [deleted] = yield* rows(mirror, server, "intercom_contacts", "id = 'c1'")
      assert.strictEqual(deleted!.deleted_at, 1020)
      assert.strictEqual(deleted!.email, contact!.email, "the row is kept")

      for (const [kind, at] of [["opened", 2000], ["assigned", 2010], ["closed", 2020]] as const) {
        yield* send(server, event(kind, "v1", at))
      }
      const [conversation] = yield* rows(mirror, server, "intercom_conversations", "id = 'v1'")
      assert.strictEqual(conversation!.updated_at, 2020)
      assert.strictEqual(conversation!.state, event("closed", "v1", 2020).data.item.state)
      assert.deepStrictEqual(conversation!.data, event("closed", "v1", 2020).data.item)
    }))

  it.scopedLive("legacy payloads land in the same columns as current ones", () =>
    Effect.gen(function*() {
      const mirror = yield* store
      const server = yield* startServer({ ...mirror.env, SINKS: "mirror" })
      const user = template("contacts.created", "legacy-user-created.json")
      const tag = template("contacts.tagCreated", "legacy-user-tag-created.json")
      const deleted = template("contacts.deleted", "legacy-user-deleted.json")
      const conversation = template("conversations.assigned", "legacy-conversation-admin-assigned.json")
      for (const notification of [user, tag, deleted, conversation]) yield* send(server, notification)
      const [contact] = yield* rows(mirror, server, "intercom_contacts", `id = '${user.data.item.id}'`)
      assert.strictEqual(contact!.role, "user")
      assert.strictEqual(contact!.external_id, user.data.item.user_id)
      assert.strictEqual(contact!.deleted_at, deleted.created_at)
      const tags = yield* rows(mirror, server, "intercom_contact_tags", `contact_id = '${user.data.item.id}'`)
      assert.deepStrictEqual(tags.map((row) => row.tag_id), [tag.data.item.tag.id])
      const [row] = yield* rows(mirror, server, "intercom_conversations", `id = '${conversation.data.item.id}'`)
      assert.strictEqual(row!.admin_assignee_id, conversation.data.item.assignee.id)
      assert.strictEqual(row!.open, true)
    }))

  it.scopedLive(
    "late, repeated and reordered notifications converge on the rows of the in-order sequence",
    () =>
      Effect.gen(function*() {
        const mirror = yield* store
        const server = yield* startServer({ ...mirror.env, SINKS: "mirror" })
        const contactEvents = ["created", "tagged", "created", "tagged", "deleted", "created"] as const
        const conversationEvents = ["opened", "assigned", "closed", "assigned", "closed"] as const
        const sequence = (prefix: string) => [
          ...contactEvents.map((kind, index) => event(kind, `${prefix}-c`, 5000 + index * 10)),
          ...conversationEvents.map((kind, index) => event(kind, `${prefix}-v`, 6000 + index * 10))
        ]
        const snapshot = (prefix: string) =>
          Effect.all([
            rows(mirror, server, "intercom_contacts", `id = '${prefix}-c'`),
            rows(mirror, server, "intercom_conversations", `id = '${prefix}-v'`),
            rows(mirror, server, "intercom_contact_tags", `contact_id = '${prefix}-c'`)
          ]).pipe(Effect.map((tables) => JSON.stringify(tables).replaceAll(prefix, "P")))

        yield* Effect.forEach(sequence("inorder"), (notification) => send(server, notification), { discard: true })
        const expected = yield* snapshot("inorder")
        assert.include(expected, "\"deleted_at\":5040")

        let run = 0
        yield* Effect.promise(() =>
          FastCheck.assert(
            FastCheck.asyncProperty(
              FastCheck.shuffledSubarray([...sequence("x").keys()], { minLength: 11, maxLength: 11 }),
              FastCheck.array(FastCheck.nat({ max: 10 }), { maxLength: 4 }),
              async (order, repeats) => {
                const prefix = `run${++run}`
                const notifications = sequence(prefix)
                for (const index of [...order, ...repeats]) {
                  await Effect.runPromise(send(server, notifications[index]!))
                }
                assert.strictEqual(await Effect.runPromise(snapshot(prefix)), expected, `order ${order} + ${repeats}`)
              }
            ),
            { numRuns: 15 }
          )
        )
      }),
    120_000
  )

  it.scopedLive("an item that does not match its schema is the mirror's dead letter, and nothing is written", () =>
    Effect.gen(function*() {
      const mirror = yield* store
      const server = yield* startServer({ ...mirror.env, SINKS: "file,mirror", RETRY_BASE_DELAY: "10ms" })
      const broken = unreadable("broken-1", 3000)
      const answer = yield* send(server, broken)
      assert.strictEqual(answer.json.schema, "mismatch")
      assert.deepStrictEqual(answer.json.queued, ["mirror"])
      const [dead] = yield* eventually(
        "the dead letter",
        server.records("dead-letter.jsonl"),
        (found) => found.length === 1
      )
      assert.strictEqual(dead!.sink, "mirror")
      assert.strictEqual(dead!.reason, "schema_mismatch")
      assert.deepStrictEqual(yield* rows(mirror, server, "intercom_contacts", "id = 'broken-1'"), [])
      assert.strictEqual((yield* server.records()).length, 1, "the file sink has it all the same")

      const metrics = (yield* server.request("/metrics")).text
      assert.notInclude(metrics, "intercom_contacts\",outcome=\"applied\"")
      yield* send(server, event("created", "fine-1", 3010))
      assert.include(
        (yield* server.request("/metrics")).text,
        "intercom_webhook_mirror_writes_total{table=\"intercom_contacts\",outcome=\"applied\"} 1"
      )
    }))

  it.scopedLive("a mirror dead letter that decodes when replayed is written through the outbox, once", () =>
    Effect.gen(function*() {
      const mirror = yield* store
      const server = yield* startServer({ ...mirror.env, SINKS: "mirror", RETRY_BASE_DELAY: "10ms" })
      const broken = unreadable("late-1", 4000)
      yield* send(server, broken)
      yield* eventually("the dead letter", server.records("dead-letter.jsonl"), (found) => found.length === 1)
      const fixed = event("created", "late-1", 4000)
      fixed.data.item.email = "late@example.com"
      yield* mirror.rewriteDeadLetter(server, broken.id, JSON.stringify(fixed))

      const nothing = { sink: Option.some("mirror"), topic: Option.none(), since: Option.none() }
      assert.strictEqual(yield* server.outbox.replay(nothing), 1)
      const [row] = yield* eventually(
        "the replayed contact",
        rows(mirror, server, "intercom_contacts", "id = 'late-1'"),
        (found) => found.length === 1
      )
      assert.strictEqual(row!.email, "late@example.com")
      assert.strictEqual(row!.updated_at, 4000)
      assert.strictEqual(yield* server.outbox.replay(nothing), 0, "a dead letter is replayed once")
      assert.strictEqual((yield* server.records("dead-letter.jsonl")).length, 1, "and not dead again")
    }))
}
