import { assert, it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { eventually } from "./Eventually.js"
import { type MirrorStore, rows, template } from "./MirrorSuite.js"
import { startServer, type TestServerShape } from "./TestServer.js"

// Notifications are edited freely by path in these tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>

type Table = "intercom_contacts" | "intercom_conversations" | "intercom_contact_tags"

/*
 * Every expected value below is written by hand from the rules in docs/sinks.md (Mirror), not from the code:
 * - text columns and `data`: NUL and unpaired surrogates become U+FFFD; `data` keeps 64 levels of nesting below the
 *   item, a deeper object or array is null;
 * - times: unix seconds (a fraction rounded down), milliseconds from 1e12 on, ISO-8601 (UTC without an offset);
 *   anything else, or outside 1970-01-01T00:00:00Z..9999-12-31T23:59:59Z, is absent (NULL);
 * - versions (`updated_at`, the notification's `created_at`, a tag's time): also absent when more than 24 hours after
 *   the notification was received; the notification's time is then the time it was received;
 * - contact, conversation and tag ids: 1 to 255 characters without NUL or unpaired surrogate, else the notification is
 *   the mirror's dead letter (`rejected`).
 */

/** Now, in unix seconds: each notification is received within minutes of it, far inside the 24 hours allowed. */
const NOW = Math.floor(Date.now() / 1000)
const HOUR = 3600
const DAY = 24 * HOUR
/** A genuine version: every notification of a case is at this time unless it says otherwise. */
const GENUINE = NOW - HOUR
/** A later genuine update. */
const LATER = NOW - 60
/** In an expected row: the time the service received the notification (unix seconds). */
const RECEIVED = "<the time the notification was received>"

/** JSON texts `JSON.stringify` cannot write (`-0`, nesting deeper than its stack), put into a body by `bodyOf`. */
const raws: Array<string> = []
const raw = (text: string) => `__raw_${raws.push(text) - 1}__`
const bodyOf = (notification: Json) =>
  JSON.stringify(notification).replace(/"__raw_(\d+)__"/g, (_, index: string) => raws[Number(index)]!)

/** `levels` objects `{"a": ...}` around `leaf`. */
const nested = (levels: number, leaf: unknown): unknown => {
  let value = leaf
  for (let level = 0; level < levels; level++) value = { a: value }
  return value
}

let serial = 0

/** A fixture's notification at `at` (its `created_at`), with a new id, edited: a function, so each run has its own. */
const from = (topic: string, file: string, at: number, edit: (notification: Json) => void) => () => {
  const notification = template(topic, file)
  notification.id = `notif_hostile_${++serial}`
  notification.created_at = at
  edit(notification)
  return notification
}

/** `contacts.created` about the contact `h1`, updated at `at`, then `edit`ed. */
const contact = (edit: (item: Json, notification: Json) => void = () => undefined, at = GENUINE) =>
  from("contacts.created", "contact-user-created.json", at, (notification) => {
    const item = notification.data.item
    item.id = "h1"
    item.updated_at = at
    edit(item, notification)
  })

/** `conversations.closed` about the conversation `v1`, updated at `at`, then `edit`ed. */
const conversation = (edit: (item: Json) => void = () => undefined, at = GENUINE) =>
  from("conversations.closed", "conversation-admin-closed.json", at, (notification) => {
    const item = notification.data.item
    item.id = "v1"
    item.updated_at = at
    edit(item)
  })

/** `contacts.tagCreated`: the tag `t1` on the contact `h1`, at `at`, then `edit`ed. */
const tagged = (edit: (item: Json) => void = () => undefined, at = GENUINE) =>
  from("contacts.tagCreated", "contact-user-tag-created.json", at, (notification) => {
    const item = notification.data.item
    item.created_at = at
    item.contact.id = "h1"
    item.contact.updated_at = at
    item.tag.id = "t1"
    edit(item)
  })

/** `contacts.deleted` about the contact `h1`, then `edit`ed. */
const deleted = (edit: (item: Json, notification: Json) => void = () => undefined) =>
  from("contacts.deleted", "contact-deleted.json", GENUINE, (notification) => {
    notification.data.item.id = "h1"
    edit(notification.data.item, notification)
  })

/** A later genuine contact update, and the row it must leave. */
const laterContact = contact((item) => item.email = "later@example.org", LATER)
const laterApplies = { send: laterContact, row: { email: "later@example.org", updated_at: LATER, notified_at: LATER } }

interface HostileCase {
  readonly name: string
  readonly send: () => Json
  readonly table?: Table
  /** Which row of `table` the case is about (default: the contact or conversation `h1` / `v1`, the tags of `h1`). */
  readonly where?: string
  /** Columns of that row as the rules make them. */
  readonly row?: Record<string, unknown>
  /** Checks of the row's `data` (parsed). */
  readonly data?: (data: Json) => void
  /** The notification is instead the mirror's dead letter: nothing is written. */
  readonly deadLetter?: { readonly reason: "rejected" | "schema_mismatch"; readonly error: string }
  /** A notification sent after it, and the row it must leave. */
  readonly then?: { readonly send: () => Json; readonly row: Record<string, unknown> }
}

const rejected = (error: string) => ({ reason: "rejected", error }) as const

/** The hostile values: each is sent with 30 clean notifications at the same moment, on each store. */
export const hostileCases: ReadonlyArray<HostileCase> = [
  // Text PostgreSQL refuses (NUL) or cannot keep as sent (unpaired surrogates), which end users type.
  {
    name: "NUL in an e-mail",
    send: contact((item) => item.email = "ada\u0000@example.org"),
    row: { email: "ada\ufffd@example.org", name: "Ada Lovelace", updated_at: GENUINE, notified_at: GENUINE },
    data: (data) => assert.strictEqual(data.email, "ada\ufffd@example.org")
  },
  {
    name: "a lone high surrogate in a name",
    send: contact((item) => item.name = "Ada \ud800"),
    row: { name: "Ada \ufffd", email: "ada.lovelace@example.org" },
    data: (data) => assert.strictEqual(data.name, "Ada \ufffd")
  },
  {
    name: "a lone low surrogate in a name",
    send: contact((item) => item.name = "\udc00Ada"),
    row: { name: "\ufffdAda" },
    data: (data) => assert.strictEqual(data.name, "\ufffdAda")
  },
  {
    name: "a surrogate pair (an emoji) in a name is kept",
    send: contact((item) => item.name = "Ada \ud83d\ude00"),
    row: { name: "Ada 😀" },
    data: (data) => assert.strictEqual(data.name, "Ada 😀")
  },
  {
    name: "NUL in an external id",
    send: contact((item) => item.external_id = "usr\u0000"),
    row: { external_id: "usr\ufffd" }
  },
  {
    name: "NUL and lone surrogates in custom attributes, their keys and nested values",
    send: contact((item) =>
      item.custom_attributes = { "note\u0000": "a\u0000b", "\udfff": ["x\ud800", { "deep\u0000": "\u0000" }], n: 1 }
    ),
    row: { email: "ada.lovelace@example.org", updated_at: GENUINE },
    data: (data) =>
      assert.deepStrictEqual(data.custom_attributes, {
        "note\ufffd": "a\ufffdb",
        "\ufffd": ["x\ufffd", { "deep\ufffd": "\ufffd" }],
        n: 1
      })
  },
  {
    name: "a name of 1 MB (1,048,576 characters) is kept whole",
    send: contact((item) => item.name = "Ω".repeat(1_048_576)),
    row: { name: "Ω".repeat(1_048_576), updated_at: GENUINE }
  },
  {
    name: "a custom attribute nested 5,000 objects deep: 64 levels below the item are kept",
    send: contact((item) =>
      item.custom_attributes = { plan: "team", deep: raw(`${"{\"a\":".repeat(5000)}1${"}".repeat(5000)}`) }
    ),
    row: { email: "ada.lovelace@example.org", updated_at: GENUINE },
    // The item is level 0, custom_attributes 1, `deep` 2: objects at levels 2 to 64 (63 of them), then null.
    data: (data) => assert.deepStrictEqual(data.custom_attributes, { plan: "team", deep: nested(63, null) })
  },
  {
    name: "a custom attribute of arrays nested 100 deep: 64 levels below the item are kept",
    send: contact((item) => item.custom_attributes = { list: raw(`${"[".repeat(100)}"x\\u0000"${"]".repeat(100)}`) }),
    data: (data) => {
      let value: unknown = data.custom_attributes.list
      for (let level = 2; level <= 64; level++) {
        assert.isArray(value, `level ${level}`)
        assert.lengthOf(value as Array<unknown>, 1)
        value = (value as Array<unknown>)[0]
      }
      assert.isNull(value, "the array at level 65 is null")
    }
  },
  // Times: out of range, in the far future, or in milliseconds. A later genuine update must still apply.
  {
    name: "updated_at 1e300",
    send: contact((item) => item.updated_at = 1e300),
    row: { updated_at: null, notified_at: GENUINE, email: "ada.lovelace@example.org" },
    data: (data) => assert.strictEqual(data.updated_at, 1e300),
    then: laterApplies
  },
  {
    name: "updated_at +275760-09-13T00:00:00Z (the latest date JavaScript has)",
    send: contact((item) => item.updated_at = "+275760-09-13T00:00:00Z"),
    row: { updated_at: null },
    data: (data) => assert.strictEqual(data.updated_at, "+275760-09-13T00:00:00Z"),
    then: laterApplies
  },
  {
    name: "updated_at in milliseconds (1767225600000) is read as 1767225600",
    send: contact((item) => item.updated_at = 1767225600000),
    row: { updated_at: 1767225600 },
    data: (data) => assert.strictEqual(data.updated_at, 1767225600000),
    then: laterApplies
  },
  {
    name: "updated_at two days after the notification was received",
    send: contact((item) => item.updated_at = NOW + 2 * DAY),
    row: { updated_at: null, notified_at: GENUINE },
    then: laterApplies
  },
  {
    name: "updated_at 9999-12-31T23:59:59Z",
    send: contact((item) => item.updated_at = "9999-12-31T23:59:59Z"),
    row: { updated_at: null },
    then: laterApplies
  },
  {
    name: "updated_at one hour ahead counts (within 24 hours): an older update after it is stale",
    send: contact((item) => item.updated_at = NOW + HOUR),
    row: { updated_at: NOW + HOUR },
    then: { send: laterContact, row: { updated_at: NOW + HOUR, email: "ada.lovelace@example.org" } }
  },
  {
    name: "updated_at 1e-7 is 0 (1970-01-01)",
    send: contact((item) => item.updated_at = 1e-7),
    row: { updated_at: 0 },
    then: laterApplies
  },
  {
    name: "updated_at -0 is 0",
    send: contact((item) => item.updated_at = raw("-0")),
    row: { updated_at: 0 },
    data: (data) => assert.strictEqual(data.updated_at, 0),
    then: laterApplies
  },
  {
    name: "updated_at -1 (before 1970)",
    send: contact((item) => item.updated_at = -1),
    row: { updated_at: null },
    then: laterApplies
  },
  {
    name: "updated_at 1767225600.9 is rounded down",
    send: contact((item) => item.updated_at = 1767225600.9),
    row: { updated_at: 1767225600 }
  },
  {
    name: "updated_at 'soon' (a string that is no time)",
    send: contact((item) => item.updated_at = "soon"),
    row: { updated_at: null },
    data: (data) => assert.strictEqual(data.updated_at, "soon"),
    then: laterApplies
  },
  {
    name: "updated_at 2026-02-30T00:00:00Z (no such day)",
    send: contact((item) => item.updated_at = "2026-02-30T00:00:00Z"),
    row: { updated_at: null }
  },
  {
    name: "updated_at 1 (a short string JavaScript would read as a date)",
    send: contact((item) => item.updated_at = "1"),
    row: { updated_at: null }
  },
  {
    name: "updated_at 2026-01-10T04:22:28 without an offset is UTC",
    send: contact((item) => item.updated_at = "2026-01-10T04:22:28"),
    row: { updated_at: 1768018948 }
  },
  {
    name: "updated_at true (a boolean where a time belongs): the schema refuses it",
    send: contact((item) => item.updated_at = true),
    deadLetter: { reason: "schema_mismatch", error: "updated_at" }
  },
  {
    name: "created_at 1e19 (beyond bigint)",
    send: contact((item) => item.created_at = 1e19),
    row: { created_at: null, updated_at: GENUINE },
    data: (data) => assert.strictEqual(data.created_at, 1e19)
  },
  {
    name: "created_at in milliseconds",
    send: contact((item) => item.created_at = 1768018948240),
    row: { created_at: 1768018948 }
  },
  {
    name: "the notification's created_at 1e300: its time is when it was received",
    send: contact((_item, notification) => notification.created_at = 1e300),
    row: { notified_at: RECEIVED, updated_at: GENUINE }
  },
  {
    name: "the notification's created_at two days ahead: its time is when it was received",
    send: contact((_item, notification) => notification.created_at = NOW + 2 * DAY),
    row: { notified_at: RECEIVED, updated_at: GENUINE }
  },
  {
    name: "a deletion whose notification's created_at is 1e19: deleted when received",
    send: deleted((_item, notification) => notification.created_at = 1e19),
    row: { deleted_at: RECEIVED, notified_at: RECEIVED, updated_at: null }
  },
  {
    name: "a tag whose times are all out of range is tagged at the notification's time",
    table: "intercom_contact_tags",
    send: tagged((item) => {
      item.created_at = 1e300
      item.tag.applied_at = "+275760-09-13T00:00:00Z"
    }),
    row: { tag_id: "t1", tag_name: "VIP – öffentlich", tagged_at: GENUINE },
    then: {
      send: tagged((item) => item.tag.name = "later", LATER),
      row: { tag_id: "t1", tag_name: "later", tagged_at: LATER }
    }
  },
  {
    name: "a conversation updated at 1e300, NUL in its state and assignee",
    table: "intercom_conversations",
    send: conversation((item) => {
      item.updated_at = 1e300
      item.state = "closed\u0000"
      item.admin_assignee_id = "58\u0000"
    }),
    row: { state: "closed\ufffd", admin_assignee_id: "58\ufffd", updated_at: null, notified_at: GENUINE },
    then: {
      send: conversation((item) => item.state = "open", LATER),
      row: { state: "open", admin_assignee_id: "5809876", updated_at: LATER }
    }
  },
  // Ids: 1 to 255 characters, no NUL or unpaired surrogate.
  {
    name: "an empty contact id",
    send: contact((item) => item.id = ""),
    deadLetter: rejected("the contact id is empty")
  },
  {
    name: "a contact id of 255 characters is kept",
    send: contact((item) => item.id = "x".repeat(255)),
    where: `id = '${"x".repeat(255)}'`,
    row: { id: "x".repeat(255), updated_at: GENUINE }
  },
  {
    name: "a contact id of 255 emoji is kept (255 characters, 510 UTF-16 units)",
    send: contact((item) => item.id = "😀".repeat(255)),
    where: `id = '${"😀".repeat(255)}'`,
    row: { id: "😀".repeat(255) }
  },
  {
    name: "a contact id of 256 characters",
    send: contact((item) => item.id = "é".repeat(256)),
    deadLetter: rejected("the contact id is longer than 255 characters")
  },
  {
    name: "a contact id of 10,000 characters (over PostgreSQL's index row size)",
    send: contact((item) => item.id = "x".repeat(10_000)),
    deadLetter: rejected("the contact id is longer than 255 characters")
  },
  {
    name: "a contact id of 1 MB",
    send: contact((item) => item.id = "x".repeat(1_048_576)),
    deadLetter: rejected("the contact id is longer than 255 characters")
  },
  {
    name: "NUL in a contact id",
    send: contact((item) => item.id = "h\u00001"),
    deadLetter: rejected("the contact id holds a NUL character or an unpaired surrogate")
  },
  {
    name: "a lone surrogate in a contact id",
    send: contact((item) => item.id = "h\ud8001"),
    deadLetter: rejected("the contact id holds a NUL character or an unpaired surrogate")
  },
  {
    name: "an empty conversation id",
    send: conversation((item) => item.id = ""),
    deadLetter: rejected("the conversation id is empty")
  },
  {
    name: "a tag id of 256 characters: neither the link nor the contact is written",
    send: tagged((item) => item.tag.id = "7".repeat(256)),
    deadLetter: rejected("the tag id is longer than 255 characters")
  },
  {
    name: "a deletion with an empty contact id",
    send: deleted((item) => item.id = ""),
    deadLetter: rejected("the contact id is empty")
  }
]

/** A clean `contacts.created` about `clean-<index>`. */
const clean = (index: number) =>
  contact((item) => {
    item.id = `clean-${index}`
    item.email = `clean-${index}@example.org`
  })()

const NEIGHBOURS = 30

const send = (server: TestServerShape, notification: Json) =>
  Effect.map(server.post(bodyOf(notification)), (answer) => {
    assert.strictEqual(answer.status, 200, answer.text)
    return answer
  })

/** Posts `hostile` amid `neighbours`, all at the same moment (one group commit on SQLite); their answers' statuses. */
const sendTogether = (server: TestServerShape, hostile: Json, neighbours: ReadonlyArray<Json>) =>
  Effect.all(
    [...neighbours.slice(0, 15), hostile, ...neighbours.slice(15)].map((sent) =>
      Effect.map(server.post(bodyOf(sent)), (answer) => answer.status)
    ),
    { concurrency: "unbounded" }
  )

const keyOf: Record<Table, string> = {
  intercom_contacts: "id = 'h1'",
  intercom_conversations: "id = 'v1'",
  intercom_contact_tags: "contact_id = 'h1'"
}

const checkRow = (found: Json | undefined, expected: Record<string, unknown>, received: readonly [number, number]) => {
  assert.isDefined(found, "the row")
  for (const [column, value] of Object.entries(expected)) {
    if (value === RECEIVED) {
      assert.isAtLeast(found![column], received[0], column)
      assert.isAtMost(found![column], received[1], column)
    } else {
      assert.deepStrictEqual(found![column], value, column)
    }
  }
}

/** Rows not written by the clean neighbours, in every mirror table. */
const hostileRows = (mirror: MirrorStore, server: TestServerShape) =>
  Effect.all([
    rows(mirror, server, "intercom_contacts", "id NOT LIKE 'clean-%'"),
    rows(mirror, server, "intercom_conversations", "1 = 1"),
    rows(mirror, server, "intercom_contact_tags", "contact_id NOT LIKE 'clean-%'")
  ])

const errorLines = (server: TestServerShape) => server.logs.filter((line) => /"logLevel":"(ERROR|FATAL)"/.test(line))

/** The file sink's records, as raw text: the hostile body must be there byte for byte. */
const fileText = (server: TestServerShape) =>
  Effect.promise(() => readFile(join(server.dataDir, "events.jsonl"), "utf8").catch(() => ""))

/**
 * Hostile values through a real service, on the store `store` makes (a fresh one per test): each is answered 200,
 * makes the rows (or the dead letter) the rules say, lets a later genuine update apply, and fails none of the 30 clean
 * notifications sent at the same moment.
 */
export const mirrorHostileSuite = (store: Effect.Effect<MirrorStore, never, Scope.Scope>) => {
  for (const hostile of hostileCases) {
    it.scopedLive(`hostile: ${hostile.name}`, () =>
      Effect.gen(function*() {
        const mirror = yield* store
        const server = yield* startServer({ ...mirror.env, SINKS: "file,mirror", RETRY_BASE_DELAY: "10ms" })
        const notification = hostile.send()
        const neighbours = Array.from({ length: NEIGHBOURS }, (_, index) => clean(index))
        const before = Math.floor(Date.now() / 1000)
        const answers = yield* sendTogether(server, notification, neighbours)
        const received = [before, Math.floor(Date.now() / 1000)] as const
        assert.deepStrictEqual(answers, Array(NEIGHBOURS + 1).fill(200), "every answer, the hostile one 16th")

        const cleanRows = yield* rows(mirror, server, "intercom_contacts", "id LIKE 'clean-%'")
        assert.deepStrictEqual(
          cleanRows.map((row) => [row.id, row.email, row.updated_at]).sort(),
          neighbours.map((sent) => [sent.data.item.id, sent.data.item.email, GENUINE]).sort(),
          "every clean neighbour is mirrored"
        )

        if (hostile.deadLetter !== undefined) {
          const [dead] = yield* eventually(
            "the mirror's dead letter",
            server.records("dead-letter.jsonl"),
            (found) => found.length > 0
          )
          assert.strictEqual(dead!.sink, "mirror")
          assert.strictEqual(dead!.id, notification.id)
          assert.strictEqual(dead!.reason, hostile.deadLetter.reason)
          assert.include(dead!.error, hostile.deadLetter.error)
          assert.deepStrictEqual(yield* hostileRows(mirror, server), [[], [], []], "nothing written")
        } else {
          const table = hostile.table ?? "intercom_contacts"
          const [row] = yield* rows(mirror, server, table, hostile.where ?? keyOf[table])
          checkRow(row, hostile.row ?? {}, received)
          hostile.data?.(row!.data)
        }
        if (hostile.then !== undefined) {
          yield* send(server, hostile.then.send())
          const table = hostile.table ?? "intercom_contacts"
          const [row] = yield* rows(mirror, server, table, hostile.where ?? keyOf[table])
          checkRow(row, hostile.then.row, received)
        }

        // Nothing else failed: every sink took every notification, no other dead letter, no error logged.
        const text = yield* fileText(server)
        assert.isTrue(text.includes(`"payload":${bodyOf(notification)}`), "the body as sent, in the file sink")
        assert.strictEqual(
          text.split("\n").filter((line) => line !== "").length,
          NEIGHBOURS + 1 + (hostile.then ? 1 : 0)
        )
        yield* eventually("an empty outbox", server.outboxDepth, (depth) => depth === 0)
        assert.lengthOf(yield* server.records("dead-letter.jsonl"), hostile.deadLetter === undefined ? 0 : 1)
        assert.deepStrictEqual(errorLines(server), [])
      }), 60_000)
  }

  it.scopedLive(
    "a mirror write the store refuses fails neither the notification nor the 30 sent with it: a dead letter",
    () =>
      Effect.gen(function*() {
        const mirror = yield* store
        const server = yield* startServer({ ...mirror.env, SINKS: "file,mirror", RETRY_BASE_DELAY: "10ms" })
        yield* mirror.refuseContact(server, "poison")
        const poison = contact((item) => item.id = "poison")()
        const neighbours = Array.from({ length: NEIGHBOURS }, (_, index) => clean(index))
        const answers = yield* sendTogether(server, poison, neighbours)
        assert.deepStrictEqual(answers, Array(NEIGHBOURS + 1).fill(200), "every answer, the poison 16th")
        const cleanRows = yield* rows(mirror, server, "intercom_contacts", "id LIKE 'clean-%'")
        assert.lengthOf(cleanRows, NEIGHBOURS, "every clean neighbour is mirrored")
        const [dead] = yield* eventually(
          "the mirror's dead letter",
          server.records("dead-letter.jsonl"),
          (found) => found.length > 0
        )
        assert.strictEqual(dead!.sink, "mirror")
        assert.strictEqual(dead!.reason, "rejected")
        assert.strictEqual(dead!.id, poison.id)
        assert.include(dead!.error, "refuses")
        assert.deepStrictEqual(yield* rows(mirror, server, "intercom_contacts", "id = 'poison'"), [])
        assert.lengthOf(yield* server.records(), NEIGHBOURS + 1, "the file sink has every one")
        yield* eventually("an empty outbox", server.outboxDepth, (depth) => depth === 0)
        assert.lengthOf(yield* server.records("dead-letter.jsonl"), 1)

        // The duplicate is recognised: the id was taken with the deliveries, only the mirror's changes were refused.
        const again = yield* send(server, poison)
        assert.strictEqual(again.json.status, "duplicate")
      }),
    60_000
  )

  it.scopedLive(
    "versions stored before the rules (far future, milliseconds) are repaired at start",
    () =>
      Effect.gen(function*() {
        const mirror = yield* store
        const dataDir = yield* Effect.acquireRelease(
          Effect.promise(() => mkdtemp(join(tmpdir(), "mirror-repair-"))),
          (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
        )
        const env = { ...mirror.env, DATA_DIR: dataDir, SINKS: "mirror" }
        yield* Effect.scoped(Effect.gen(function*() {
          const first = yield* startServer(env)
          // What the service wrote before: seconds from `+275760-09-13T00:00:00Z`, milliseconds, two days ahead.
          yield* mirror.exec(
            first,
            `INSERT INTO intercom_contacts (id, data, updated_at, notified_at) VALUES
          ('far', '{}', 8640000000000, ${GENUINE}),
          ('millis', '{}', 1767225600000, 1767225600123),
          ('ahead', '{}', ${NOW + 2 * DAY}, ${NOW + 2 * DAY}),
          ('fine', '{}', ${GENUINE}, ${GENUINE})`
          )
          yield* mirror.exec(
            first,
            `INSERT INTO intercom_conversations (id, data, updated_at, notified_at)
          VALUES ('far', '{}', 8640000000000, ${GENUINE})`
          )
          yield* mirror.exec(
            first,
            `INSERT INTO intercom_contact_tags (contact_id, tag_id, tagged_at) VALUES ('far', 't1', 8640000000000)`
          )
          yield* mirror.forgetVersionRepair(first)
        }))
        const server = yield* startServer(env)
        const versions = (table: Table, columns: string) =>
          Effect.map(
            rows(mirror, server, table, "1 = 1"),
            (found) => found.map((row) => columns.split(",").map((column) => row[column]))
          )
        assert.deepStrictEqual(yield* versions("intercom_contacts", "id,updated_at,notified_at"), [
          ["ahead", null, null],
          ["far", null, GENUINE],
          ["fine", GENUINE, GENUINE],
          ["millis", 1767225600, 1767225600]
        ])
        assert.deepStrictEqual(yield* versions("intercom_conversations", "id,updated_at"), [["far", null]])
        assert.deepStrictEqual(yield* versions("intercom_contact_tags", "tag_id,tagged_at"), [["t1", null]])

        // The repaired rows take genuine updates again.
        yield* send(server, contact((item) => item.id = "far", LATER)())
        const [far] = yield* rows(mirror, server, "intercom_contacts", "id = 'far'")
        assert.strictEqual(far!.updated_at, LATER)
      }),
    60_000
  )
}
