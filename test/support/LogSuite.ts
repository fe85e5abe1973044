import { assert, it } from "@effect/vitest"
import { Context, Duration, Effect, Either, FastCheck, Layer, Logger, LogLevel, Option, type Scope } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import type { StoreSettings } from "../../src/config/ReceiverConfig.js"
import { Decoder, type NotificationBytes, withoutPayload } from "../../src/pipeline/Notification.js"
import { verifiedBeforeStoring } from "../../src/pipeline/Signature.js"
import { canonicalTopic, intercomTopics } from "../../src/pipeline/Topics.js"
import {
  type LogEntry,
  type LoggedNotification,
  type LoggedOutcome,
  type LogSearch,
  type MinuteCount,
  NotificationLogStore
} from "../../src/store/NotificationLog.js"
import { Outbox, type OutboxEntry } from "../../src/store/Outbox.js"
import * as Store from "../../src/store/Store.js"
import { corpusDir, loadFixtures } from "./Fixtures.js"
import { databaseUrl, freshDatabase } from "./Postgres.js"
import { storeSettings } from "./StoreSettings.js"

/** The outbox and the notification log of one store, as the service's store layer provides them. */
export interface LogStores {
  readonly outbox: Outbox["Type"]
  readonly log: NotificationLogStore["Type"]
}

/** The settings of an SQLite store at `storePath`. */
export const sqliteSettingsAt = (storePath: string): StoreSettings =>
  storeSettings({ dir: dirname(storePath) }, { storePath, storeStatementTimeout: Duration.seconds(10) })

/** The settings of a PostgreSQL store in the test database `name`. */
export const postgresSettingsOf = (name: string): StoreSettings =>
  storeSettings({ url: databaseUrl(name) }, { storeStatementTimeout: Duration.seconds(10) })

/** An embedded SQLite store in a temp folder of its own, removed when the scope closes. */
export const sqliteSettings = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "notification-log-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => sqliteSettingsAt(join(dir, "receiver.db"))))

/** A PostgreSQL store in a fresh database, dropped when the scope closes. */
export const postgresSettings = Effect.map(freshDatabase, postgresSettingsOf)

/** The store the settings choose, built by the service's own store layer, open until the scope closes. */
export const openStores = (config: Effect.Effect<StoreSettings, never, Scope.Scope>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      Store.layerWith(yield* config, "service").pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.None)))
    ).pipe(Effect.orDie)
    return { outbox: Context.get(context, Outbox), log: Context.get(context, NotificationLogStore) } as LogStores
  })

const fixtures = [...loadFixtures(), ...loadFixtures(corpusDir)]

/** The exact bytes of a fixture (schemas/fixtures) or corpus notification, by file name. */
export const fixtureBytes = (file: string): Buffer => {
  const found = fixtures.find((candidate) => candidate.file === file)
  if (found === undefined) throw new Error(`no fixture ${file}`)
  return found.bytes
}

/** A fixture with some of its envelope or item changed, re-serialized. */
export const variant = (
  file: string,
  change: { readonly id?: string | null; readonly topic?: string; readonly itemId?: string | number }
): Buffer => {
  const json = JSON.parse(fixtureBytes(file).toString("utf8")) as {
    id?: unknown
    topic: string
    data: { item: Record<string, unknown> }
  }
  if (change.id !== undefined) json.id = change.id
  if (change.topic !== undefined) json.topic = change.topic
  if (change.itemId !== undefined) json.data.item.id = change.itemId
  return Buffer.from(JSON.stringify(json))
}

const decoder = Effect.runSync(Effect.provide(Decoder, Decoder.Default))

/** The notification the real decoder makes of these bytes received at `receivedAt` (its delivery key, its mismatch). */
export const notificationOf = (bytes: Uint8Array, receivedAt: Date): NotificationBytes => {
  const decoded = decoder.decode(verifiedBeforeStoring(bytes), receivedAt)
  if (Either.isLeft(decoded)) throw new Error(`not a notification: ${decoded.left.message}`)
  return withoutPayload(decoded.right)
}

export const entry = (
  notification: NotificationBytes,
  sinks: ReadonlyArray<string> = ["file", "http"],
  outcome: LoggedOutcome = sinks.length === 0 ? "no_route" : "accepted"
): LogEntry => ({ notification, outcome, sinks })

/** What the log must list for an entry written (everything but its seq). */
const expectedOf = ({ notification, outcome, sinks }: LogEntry): Omit<LoggedNotification, "seq"> => ({
  notificationId: notification.id,
  topic: notification.topic,
  intercomTopic: notification.intercomTopic,
  appId: notification.appId,
  receivedAt: notification.receivedAt,
  entity: notification.deliveryKey,
  outcome,
  schemaMismatch: notification.schemaMismatch ?? null,
  sinks
})

const withoutSeq = ({ seq: _seq, ...rest }: LoggedNotification) => rest

/** Every entry of a search, page after page (`limit` each) through `after`, until a page comes back empty. */
export const walk = (log: NotificationLogStore["Type"], search: Omit<LogSearch, "after">) =>
  Effect.gen(function*() {
    const seen: Array<LoggedNotification> = []
    let after: LogSearch["after"] = undefined
    for (let pages = 0; pages < 10_000; pages++) {
      const page: ReadonlyArray<LoggedNotification> = yield* log.search({ ...search, after })
      assert.isAtMost(page.length, search.limit)
      if (page.length === 0) return seen
      seen.push(...page)
      const last = page[page.length - 1]!
      after = { receivedAt: last.receivedAt.getTime(), seq: last.seq }
    }
    return assert.fail("the pages never end")
  })

/** Sorted by minute then outcome, counts as numbers: the order of one minute's outcomes is not part of the contract. */
const sortedCounts = (counts: ReadonlyArray<MinuteCount>) =>
  counts.map(({ count, minute, outcome }) => ({ minute: Number(minute), outcome, count: Number(count) }))
    .sort((a, b) => a.minute - b.minute || a.outcome.localeCompare(b.outcome))

const T = Date.UTC(2026, 0, 10, 12, 0, 0)
const MINUTE = 60_000
const HOUR = 60 * MINUTE
const at = (offset: number) => new Date(T + offset)

const CONTACT_A = "contact:6a1f0c2e9b3d4e5f607182aa"
const CONVERSATION = "conversation:21600000123456"

/** The notifications of the search tests: real fixtures, three of them about one conversation at the same instant. */
const searchEntries = () => {
  const make = (bytes: Uint8Array, offset: number, sinks?: ReadonlyArray<string>) =>
    entry(notificationOf(bytes, at(offset)), sinks)
  return {
    leadA: make(fixtureBytes("contact-lead-created.json"), 0),
    userB: make(fixtureBytes("contact-user-created.json"), 1000),
    deletedA: make(fixtureBytes("contact-deleted.json"), 2000),
    closedC: make(fixtureBytes("conversation-admin-closed.json"), 3000),
    createdC: make(fixtureBytes("conversation-user-created.json"), 3000),
    assignedC: make(fixtureBytes("conversation-admin-assigned.json"), 3000, ["http"]),
    ping: make(fixtureBytes("ping.json"), 4000, []),
    unknown: make(
      variant("contact-lead-created.json", { id: "notif_unknown_topic_1", topic: "visitor.signed_up" }),
      5000,
      []
    ),
    leadD: make(fixtureBytes("contact-lead-created-older-2x-cjk-name.json"), 6000),
    mismatch: make(variant("contact-user-created.json", { id: "notif_mismatch_1", itemId: 12345 }), 7000, ["file"])
  }
}
type SearchName = keyof ReturnType<typeof searchEntries>

/**
 * The notification log's behaviour, the same whichever store is behind it: `open` gives the outbox and the log of a
 * store of its own, once per test.
 */
export const logSuite = (open: Effect.Effect<LogStores, never, Scope.Scope>) => {
  it.scopedLive("the search entries decode as the tests assume (real delivery keys, a real schema mismatch)", () =>
    Effect.sync(() => {
      const entries = searchEntries()
      assert.strictEqual(entries.leadA.notification.deliveryKey, CONTACT_A)
      assert.strictEqual(entries.deletedA.notification.deliveryKey, CONTACT_A)
      assert.strictEqual(entries.unknown.notification.deliveryKey, CONTACT_A)
      assert.strictEqual(entries.unknown.notification.topic, null)
      for (const name of ["closedC", "createdC", "assignedC"] as const) {
        assert.strictEqual(entries[name].notification.deliveryKey, CONVERSATION)
      }
      assert.strictEqual(entries.ping.notification.id, null)
      assert.strictEqual(entries.ping.notification.deliveryKey, "topic:ping")
      assert.strictEqual(entries.mismatch.notification.deliveryKey, "contact:12345")
      assert.match(entries.mismatch.notification.schemaMismatch ?? "", /^data\.item\.id/)
      for (const name of ["leadA", "userB", "closedC", "leadD"] as const) {
        assert.isUndefined(entries[name].notification.schemaMismatch, name)
      }
    }))

  it.scopedLive("written entries are listed newest first, ties by seq, with every field as written", () =>
    Effect.gen(function*() {
      const { log } = yield* open
      const entries = searchEntries()
      const order: ReadonlyArray<SearchName> = [
        "leadA",
        "userB",
        "deletedA",
        "closedC",
        "createdC",
        "assignedC",
        "ping",
        "unknown",
        "leadD",
        "mismatch"
      ]
      // Two batches: seq keeps counting across writes, and the tie at 3000 spans both.
      yield* log.write(order.slice(0, 5).map((name) => entries[name]), [])
      yield* log.write(order.slice(5).map((name) => entries[name]), [])
      const listed = yield* log.search({ limit: 100 })
      const newestFirst: ReadonlyArray<SearchName> = [
        "mismatch",
        "leadD",
        "unknown",
        "ping",
        "assignedC",
        "createdC",
        "closedC",
        "deletedA",
        "userB",
        "leadA"
      ]
      assert.deepStrictEqual(listed.map(withoutSeq), newestFirst.map((name) => expectedOf(entries[name])))
      // seq is the log's own id, given in write order.
      const seqs = [...listed].reverse().map((logged) => logged.seq)
      assert.deepStrictEqual(seqs, [...seqs].sort((a, b) => a - b))
      assert.strictEqual(new Set(seqs).size, seqs.length)
      assert.deepStrictEqual(
        (yield* log.search({ limit: 3 })).map(withoutSeq),
        newestFirst.slice(0, 3).map((name) => expectedOf(entries[name]))
      )
      assert.deepStrictEqual(yield* log.search({ limit: 0 }), [])
    }))

  it.scopedLive("each filter alone and combined: ids or entities, topic (canonical, Intercom's, unknown), since/until inclusive", () =>
    Effect.gen(function*() {
      const { log } = yield* open
      const entries = searchEntries()
      const names = Object.keys(entries) as ReadonlyArray<SearchName>
      yield* log.write(names.map((name) => entries[name]), [])
      const nameOf = (logged: LoggedNotification): SearchName =>
        names.find((name) => {
          const { notification } = entries[name]
          return notification.id === logged.notificationId &&
            notification.receivedAt.getTime() === logged.receivedAt.getTime() &&
            notification.intercomTopic === logged.intercomTopic
        })!
      const found = (search: Omit<LogSearch, "limit">, limit = 100) =>
        Effect.map(log.search({ ...search, limit }), (listed) => listed.map(nameOf))
      const idOf = (name: SearchName) => entries[name].notification.id!
      const anyOf = (ids: ReadonlyArray<string>, entities: ReadonlyArray<string>) => ({ anyOf: { ids, entities } })

      // ids and entities
      assert.deepStrictEqual(yield* found(anyOf([idOf("closedC")], [])), ["closedC"])
      assert.deepStrictEqual(yield* found(anyOf([idOf("closedC"), idOf("leadA")], [])), ["closedC", "leadA"])
      assert.deepStrictEqual(yield* found(anyOf([], [CONTACT_A])), ["unknown", "deletedA", "leadA"])
      assert.deepStrictEqual(yield* found(anyOf([], [CONVERSATION])), ["assignedC", "createdC", "closedC"])
      assert.deepStrictEqual(yield* found(anyOf([], ["topic:ping"])), ["ping"])
      assert.deepStrictEqual(yield* found(anyOf([], ["contact:12345"])), ["mismatch"])
      assert.deepStrictEqual(
        yield* found(anyOf([idOf("userB")], [CONVERSATION])),
        ["assignedC", "createdC", "closedC", "userB"],
        "an id or an entity"
      )
      assert.deepStrictEqual(
        yield* found(anyOf([idOf("closedC")], [CONVERSATION])),
        ["assignedC", "createdC", "closedC"],
        "matched by both, listed once"
      )
      assert.deepStrictEqual(yield* found(anyOf(["notif_nobody"], ["contact:nobody"])), [])
      assert.deepStrictEqual(yield* found(anyOf([], [])), [], "an empty anyOf matches nothing")
      assert.deepStrictEqual(
        yield* found(anyOf([], ["contact:6a1f0c2e9b3d4e5f607182aa".slice(0, 20)])),
        [],
        "an entity is matched whole, not as a prefix"
      )

      // topics
      assert.deepStrictEqual(yield* found({ topic: "contacts.created" }), ["mismatch", "leadD", "userB", "leadA"])
      assert.deepStrictEqual(yield* found({ topic: "contact.lead.created" }), ["leadD", "leadA"])
      assert.deepStrictEqual(yield* found({ topic: "contact.user.created" }), ["mismatch", "userB"])
      assert.deepStrictEqual(yield* found({ topic: "user.created" }), [], "another string of the same topic")
      assert.deepStrictEqual(yield* found({ topic: "contacts.deleted" }), ["deletedA"])
      assert.deepStrictEqual(yield* found({ topic: "conversations.closed" }), ["closedC"])
      assert.deepStrictEqual(yield* found({ topic: "conversation.admin.closed" }), ["closedC"])
      assert.deepStrictEqual(yield* found({ topic: "ping" }), ["ping"])
      assert.deepStrictEqual(yield* found({ topic: "visitor.signed_up" }), ["unknown"], "a topic without a schema")
      assert.deepStrictEqual(yield* found({ topic: "ticket.created" }), [])

      // receive times, both bounds inclusive
      assert.deepStrictEqual(
        yield* found({ since: at(3000) }),
        ["mismatch", "leadD", "unknown", "ping", "assignedC", "createdC", "closedC"]
      )
      assert.deepStrictEqual(
        yield* found({ until: at(3000) }),
        ["assignedC", "createdC", "closedC", "deletedA", "userB", "leadA"]
      )
      assert.deepStrictEqual(yield* found({ since: at(3000), until: at(3000) }), ["assignedC", "createdC", "closedC"])
      assert.deepStrictEqual(yield* found({ since: at(3001), until: at(5999) }), ["unknown", "ping"])
      assert.deepStrictEqual(yield* found({ since: at(7001) }), [])
      assert.deepStrictEqual(yield* found({ until: at(-1) }), [])
      assert.deepStrictEqual(yield* found({ since: at(5000), until: at(1000) }), [])

      // combined
      assert.deepStrictEqual(
        yield* found({ topic: "contacts.created", since: at(1000), until: at(6000) }),
        ["leadD", "userB"]
      )
      assert.deepStrictEqual(yield* found({ ...anyOf([], [CONTACT_A]), topic: "contacts.deleted" }), ["deletedA"])
      assert.deepStrictEqual(yield* found({ ...anyOf([], [CONTACT_A]), topic: "visitor.signed_up" }), ["unknown"])
      assert.deepStrictEqual(
        yield* found({ ...anyOf([idOf("leadD")], [CONVERSATION]), until: at(3000) }, 2),
        ["assignedC", "createdC"]
      )
      assert.deepStrictEqual(
        yield* found({
          ...anyOf([idOf("leadA"), idOf("mismatch")], [CONVERSATION]),
          topic: "contact.user.created",
          since: at(0),
          until: at(7000)
        }),
        ["mismatch"]
      )
      assert.deepStrictEqual(
        yield* found({ ...anyOf([idOf("leadA")], []), topic: "contact.lead.created", since: at(1) }),
        []
      )
    }))

  it.scopedLive("pages through `after` walk every entry exactly once, ties at one receive time broken by seq", () =>
    Effect.gen(function*() {
      const { log } = yield* open
      // 23 notifications over 4 instants, 3 of them shared by many, written in three batches.
      const written = Array.from({ length: 23 }, (_, index) =>
        entry(
          notificationOf(
            variant(index % 2 === 0 ? "contact-lead-created.json" : "conversation-admin-closed.json", {
              id: `notif_page_${index}`,
              itemId: `item${index % 3}`
            }),
            at([0, 1000, 1000, 1000, 2000, 2000, 3000][index % 7]!)
          )
        ))
      for (const batch of [written.slice(0, 7), written.slice(7, 15), written.slice(15)]) yield* log.write(batch, [])
      const everything = yield* log.search({ limit: 1000 })
      assert.strictEqual(everything.length, 23)
      for (let index = 1; index < everything.length; index++) {
        const [newer, older] = [everything[index - 1]!, everything[index]!]
        assert.isTrue(
          newer.receivedAt > older.receivedAt || (newer.receivedAt.getTime() === older.receivedAt.getTime() &&
            newer.seq > older.seq),
          "newest first, ties by seq"
        )
      }
      for (const limit of [1, 2, 3, 5, 22, 23, 24]) {
        assert.deepStrictEqual(yield* walk(log, { limit }), everything, `pages of ${limit}`)
      }
      const leads = yield* log.search({ topic: "contacts.created", limit: 1000 })
      assert.strictEqual(leads.length, 12)
      assert.deepStrictEqual(yield* walk(log, { topic: "contacts.created", limit: 2 }), leads)
      const item1 = yield* log.search({
        anyOf: { ids: [], entities: ["contact:item1", "conversation:item1"] },
        limit: 50
      })
      assert.strictEqual(item1.length, 8)
      assert.deepStrictEqual(
        yield* walk(log, { anyOf: { ids: [], entities: ["contact:item1", "conversation:item1"] }, limit: 3 }),
        item1
      )
      const middle = yield* log.search({ since: at(1000), until: at(2000), limit: 100 })
      assert.strictEqual(middle.length, 16)
      assert.deepStrictEqual(yield* walk(log, { since: at(1000), until: at(2000), limit: 4 }), middle)
      // `after` an entry lists exactly those after it in the full order, whatever entry it is.
      for (const [index, logged] of everything.entries()) {
        const rest = yield* log.search({
          after: { receivedAt: logged.receivedAt.getTime(), seq: logged.seq },
          limit: 100
        })
        assert.deepStrictEqual(rest, everything.slice(index + 1))
      }
    }))

  it.scopedLive("get returns the entry with the body byte for byte; an unknown seq is none", () =>
    Effect.gen(function*() {
      const { log } = yield* open
      const entries = searchEntries()
      yield* log.write(Object.values(entries), [])
      const listed = yield* log.search({ limit: 100 })
      for (const logged of listed) {
        const got = yield* log.get(logged.seq)
        assert.isTrue(Option.isSome(got), `seq ${logged.seq}`)
        const { body, ...fields } = Option.getOrThrow(got)
        assert.deepStrictEqual(fields, logged)
        const sent = Object.values(entries).find((candidate) =>
          candidate.notification.id === logged.notificationId &&
          candidate.notification.receivedAt.getTime() === logged.receivedAt.getTime()
        )!.notification.body
        assert.isTrue(Buffer.from(body).equals(Buffer.from(sent)), `the body of seq ${logged.seq}`)
      }
      // The fixture's own bytes (indentation, non-ASCII text), not a re-encoding of its JSON.
      const cjk = listed.find((logged) => logged.notificationId === entries.leadD.notification.id)!
      const body = Option.getOrThrow(yield* log.get(cjk.seq)).body
      assert.isTrue(Buffer.from(body).equals(fixtureBytes("contact-lead-created-older-2x-cjk-name.json")))
      const highest = Math.max(...listed.map((logged) => logged.seq))
      for (const missing of [highest + 1, highest + 1000, 0, -1]) {
        assert.isTrue(Option.isNone(yield* log.get(missing)), `seq ${missing}`)
      }
    }))

  it.scopedLive("deliveries: what waits for each sink, retries with their error, dead letters; never another's", () =>
    Effect.gen(function*() {
      const { log, outbox } = yield* open
      const now = Date.now()
      const receivedAt = new Date(now - 60_000)
      const mine = notificationOf(fixtureBytes("conversation-admin-closed.json"), receivedAt)
      // About the same conversation, received at the same instant, with another id.
      const other = notificationOf(fixtureBytes("conversation-user-created.json"), receivedAt)
      assert.strictEqual(mine.deliveryKey, other.deliveryKey)
      assert.strictEqual(yield* outbox.accept(mine, ["a", "b"]), "accepted")
      assert.strictEqual(yield* outbox.accept(other, ["a", "b"]), "accepted")
      yield* log.write([entry(mine, ["a", "b"]), entry(other, ["a", "b"])], [])
      const logged = yield* log.search({ limit: 10 })
      const loggedMine = logged.find((candidate) => candidate.notificationId === mine.id)!
      const loggedOther = logged.find((candidate) => candidate.notificationId === other.id)!

      const fresh = yield* log.deliveries(loggedMine)
      assert.deepStrictEqual(fresh.waiting.map((waiting) => [waiting.sink, waiting.attempts, waiting.lastError]), [
        ["a", 0, null],
        ["b", 0, null]
      ])
      for (const waiting of fresh.waiting) {
        assert.instanceOf(waiting.nextAttemptAt, Date)
        assert.isAtMost(waiting.nextAttemptAt.getTime(), Date.now())
      }
      assert.deepStrictEqual(fresh.deadLetters, [])

      const dueOf = (sink: string, notification: NotificationBytes) =>
        Effect.map(
          outbox.due(sink, { now: Date.now() + 1, limit: 100, order: "receive", busy: [] }),
          (due) => due.find((candidate) => candidate.notificationId === notification.id)!
        )
      const forA: OutboxEntry = yield* dueOf("a", mine)
      yield* outbox.delivered("a", [forA.seq])
      const forB: OutboxEntry = yield* dueOf("b", mine)
      const retryAt = now + 3_600_000
      yield* outbox.retryLater(forB.seq, 2, retryAt, "timed out after 10s")
      assert.deepStrictEqual(yield* log.deliveries(loggedMine), {
        waiting: [{ sink: "b", attempts: 2, nextAttemptAt: new Date(retryAt), lastError: "timed out after 10s" }],
        deadLetters: []
      })

      yield* outbox.bury(forB, "rejected", "answered 400", 3)
      const buried = yield* log.deliveries(loggedMine)
      assert.deepStrictEqual(buried.waiting, [], "delivered to a, dead letter for b: nothing waits")
      assert.strictEqual(buried.deadLetters.length, 1)
      const [dead] = buried.deadLetters
      assert.deepStrictEqual(
        { ...dead!, id: 0, deadAt: new Date(0) },
        {
          id: 0,
          sink: "b",
          reason: "rejected",
          error: "answered 400",
          attempts: 3,
          deadAt: new Date(0),
          replayedAt: null
        }
      )
      assert.isAtLeast(dead!.deadAt.getTime(), now - 1000)

      // The other notification of the same conversation and instant is untouched, and none of mine is its.
      const others = yield* log.deliveries(loggedOther)
      assert.deepStrictEqual(others.waiting.map((waiting) => [waiting.sink, waiting.attempts, waiting.lastError]), [
        ["a", 0, null],
        ["b", 0, null]
      ])
      assert.deepStrictEqual(others.deadLetters, [])

      // Replayed: it waits again, and the dead letter shows when it was replayed.
      const everything = { sink: Option.none(), topic: Option.none(), since: Option.none() }
      assert.strictEqual(yield* outbox.replay({ ...everything, ids: [dead!.id] }), 1)
      const replayed = yield* log.deliveries(loggedMine)
      assert.deepStrictEqual(replayed.waiting.map((waiting) => [waiting.sink, waiting.attempts]), [["b", 0]])
      assert.strictEqual(replayed.deadLetters.length, 1)
      assert.instanceOf(replayed.deadLetters[0]!.replayedAt, Date)
      assert.strictEqual((yield* log.deliveries(loggedOther)).deadLetters.length, 0)
    }))

  it.scopedLive("deliveries of a notification without an id (ping): found by entity and receive time", () =>
    Effect.gen(function*() {
      const { log, outbox } = yield* open
      const now = Date.now()
      const first = notificationOf(fixtureBytes("ping.json"), new Date(now - 2000))
      const second = notificationOf(fixtureBytes("ping-minimal.json"), new Date(now - 1000))
      assert.strictEqual(first.id, null)
      assert.strictEqual(first.deliveryKey, second.deliveryKey)
      for (const ping of [first, second]) assert.strictEqual(yield* outbox.accept(ping, ["a"]), "accepted")
      yield* log.write([entry(first, ["a"]), entry(second, ["a"])], [])
      const [loggedSecond, loggedFirst] = yield* log.search({ limit: 10 })
      assert.strictEqual(loggedFirst!.receivedAt.getTime(), first.receivedAt.getTime())
      assert.strictEqual(loggedFirst!.notificationId, null)

      assert.deepStrictEqual((yield* log.deliveries(loggedFirst!)).waiting.map((waiting) => waiting.sink), ["a"])
      assert.deepStrictEqual((yield* log.deliveries(loggedSecond!)).waiting.map((waiting) => waiting.sink), ["a"])

      const due = yield* outbox.due("a", { now: Date.now() + 1, limit: 100, order: "receive", busy: [] })
      const secondEntry = due.find((candidate) => candidate.receivedAt.getTime() === second.receivedAt.getTime())!
      yield* outbox.bury(secondEntry, "exhausted", "answered 503 five times", 5)
      const ofFirst = yield* log.deliveries(loggedFirst!)
      assert.deepStrictEqual(ofFirst.waiting.map((waiting) => waiting.sink), ["a"])
      assert.deepStrictEqual(ofFirst.deadLetters, [], "the other ping's dead letter is not this one's")
      const ofSecond = yield* log.deliveries(loggedSecond!)
      assert.deepStrictEqual(ofSecond.waiting, [])
      assert.deepStrictEqual(
        ofSecond.deadLetters.map((letter) => [letter.sink, letter.reason, letter.error, letter.attempts]),
        [["a", "exhausted", "answered 503 five times", 5]]
      )
    }))

  it.scopedLive("deliveries of a notification no route takes: no waiting, its no_route dead letter", () =>
    Effect.gen(function*() {
      const { log, outbox } = yield* open
      const receivedAt = new Date(Date.now() - 1000)
      const unrouted = notificationOf(variant("contact-deleted.json", { id: "notif_unrouted_1" }), receivedAt)
      const routed = notificationOf(fixtureBytes("contact-deleted.json"), receivedAt)
      yield* outbox.addDeadLetter(unrouted, "no_route", "no rule of ROUTES matches this topic")
      assert.strictEqual(yield* outbox.accept(routed, ["a"]), "accepted")
      yield* log.write([entry(unrouted, []), entry(routed, ["a"])], [])
      const listed = yield* log.search({ limit: 10 })
      const loggedUnrouted = listed.find((logged) => logged.notificationId === "notif_unrouted_1")!
      assert.strictEqual(loggedUnrouted.outcome, "no_route")
      assert.deepStrictEqual(loggedUnrouted.sinks, [])
      const record = yield* log.deliveries(loggedUnrouted)
      assert.deepStrictEqual(record.waiting, [], "the routed one's outbox row (same entity, same instant) is not its")
      assert.deepStrictEqual(
        record.deadLetters.map((letter) => [letter.sink, letter.reason, letter.error, letter.attempts]),
        [[null, "no_route", "no rule of ROUTES matches this topic", 0]]
      )
      const ofRouted = yield* log.deliveries(listed.find((logged) => logged.notificationId === routed.id)!)
      assert.deepStrictEqual(ofRouted.waiting.map((waiting) => waiting.sink), ["a"])
      assert.deepStrictEqual(ofRouted.deadLetters, [], "the unrouted one's dead letter is not its")
    }))

  it.scopedLive("per-minute counts add up across writes; minutes(since) lists the minutes from since on", () =>
    Effect.gen(function*() {
      const { log } = yield* open
      const m0 = T
      const m1 = T + MINUTE
      const m2 = T + 2 * MINUTE
      yield* log.write([], [
        { minute: m0, outcome: "accepted", count: 2 },
        { minute: m0, outcome: "refused", count: 1 }
      ])
      yield* log.write([entry(notificationOf(fixtureBytes("ping.json"), new Date(m0 + 5)), [])], [
        { minute: m0, outcome: "accepted", count: 3 },
        { minute: m1, outcome: "duplicate", count: 1 },
        { minute: m2, outcome: "failed", count: 4 }
      ])
      yield* log.write([], [
        { minute: m0, outcome: "refused", count: 10 },
        { minute: m2, outcome: "mismatch", count: 1 },
        { minute: m2, outcome: "failed", count: 1 }
      ])
      const all = [
        { minute: m0, outcome: "accepted", count: 5 },
        { minute: m0, outcome: "refused", count: 11 },
        { minute: m1, outcome: "duplicate", count: 1 },
        { minute: m2, outcome: "failed", count: 5 },
        { minute: m2, outcome: "mismatch", count: 1 }
      ]
      assert.deepStrictEqual(sortedCounts(yield* log.minutes(0)), all)
      assert.deepStrictEqual(sortedCounts(yield* log.minutes(m0)), all, "since is inclusive")
      assert.deepStrictEqual(sortedCounts(yield* log.minutes(m0 + 1)), all.slice(2))
      assert.deepStrictEqual(sortedCounts(yield* log.minutes(m1)), all.slice(2))
      assert.deepStrictEqual(sortedCounts(yield* log.minutes(m2)), all.slice(3))
      assert.deepStrictEqual(yield* log.minutes(m2 + 1), [])
      const minutes = (yield* log.minutes(0)).map((count) => count.minute)
      assert.deepStrictEqual(minutes, [...minutes].sort((a, b) => a - b), "oldest minute first")
      for (const count of yield* log.minutes(0)) {
        assert.strictEqual(typeof count.count, "number")
        assert.strictEqual(typeof count.minute, "number")
      }
      assert.strictEqual((yield* log.search({ limit: 10 })).length, 1, "counts make no entries")
    }))

  it.scopedLive(
    "two counts of one minute and outcome in one write add up",
    () =>
      Effect.gen(function*() {
        const { log } = yield* open
        // The writer merges its counts by minute and outcome before writing, so it never sends this today; the store's
        // contract ("added to those of the same minute and outcome") does not say a batch must not.
        yield* log.write([], [
          { minute: T, outcome: "accepted", count: 1 },
          { minute: T, outcome: "accepted", count: 2 }
        ])
        assert.deepStrictEqual(sortedCounts(yield* log.minutes(0)), [{ minute: T, outcome: "accepted", count: 3 }])
      })
  )

  it.scopedLive("prune by age: entries received before `before` go, those at or after stay, and older minutes", () =>
    Effect.gen(function*() {
      const { log } = yield* open
      const before = T - 90 * MINUTE
      const offsets = [-3 * HOUR, -2 * HOUR, -90 * MINUTE - 1, -90 * MINUTE, -HOUR, 0]
      const written = offsets.map((offset, index) =>
        entry(notificationOf(variant("ping.json", { id: `notif_age_${index}` }), at(offset)))
      )
      const minutes = [-3 * HOUR, -2 * HOUR, -91 * MINUTE, -90 * MINUTE, -HOUR, 0]
      yield* log.write(written, minutes.map((offset) => ({ minute: T + offset, outcome: "accepted", count: 1 })))
      assert.strictEqual(yield* log.prune(before, 1_000_000), 3)
      assert.deepStrictEqual(
        (yield* log.search({ limit: 100 })).map((logged) => logged.notificationId),
        ["notif_age_5", "notif_age_4", "notif_age_3"]
      )
      assert.deepStrictEqual(
        sortedCounts(yield* log.minutes(0)).map((count) => count.minute),
        [before, T - HOUR, T],
        "the minutes before `before` go"
      )
      assert.strictEqual(yield* log.prune(before, 1_000_000), 0, "nothing left to prune")
      assert.strictEqual((yield* log.search({ limit: 100 })).length, 3)
    }))

  it.scopedLive("prune by count: beyond maxRows only the newest maxRows stay; with age, both rules apply", () =>
    Effect.gen(function*() {
      const { log } = yield* open
      const write = (prefix: string, count: number, offset = 0) =>
        log.write(
          Array.from({ length: count }, (_, index) =>
            entry(notificationOf(variant("ping.json", { id: `${prefix}_${index}` }), at(offset + index * 1000)))),
          []
        )
      yield* write("notif_count", 10)
      assert.strictEqual(yield* log.prune(0, 4), 6)
      const ids = (yield* log.search({ limit: 100 })).map((logged) => logged.notificationId)
      assert.deepStrictEqual(ids, ["notif_count_9", "notif_count_8", "notif_count_7", "notif_count_6"])
      assert.strictEqual(yield* log.prune(0, 4), 0)
      assert.strictEqual(yield* log.prune(0, 100), 0, "fewer than maxRows: nothing goes")

      // Ten more, later: 14 in all, of which the 4 first and 3 of the new ones are older than `before`; at most 5.
      yield* write("notif_more", 10, 20_000)
      assert.strictEqual(yield* log.prune(T + 23_000, 5), 9)
      assert.deepStrictEqual(
        (yield* log.search({ limit: 100 })).map((logged) => logged.notificationId),
        ["notif_more_9", "notif_more_8", "notif_more_7", "notif_more_6", "notif_more_5"]
      )
    }))

  it.scopedLive("prune removes at most 5000 entries per rule and call; repeated calls finish the job", () =>
    Effect.gen(function*() {
      const { log } = yield* open
      const template = notificationOf(fixtureBytes("ping-minimal.json"), at(0))
      const write = (count: number, offset: number) =>
        Effect.forEach(
          Array.from({ length: Math.ceil(count / 1000) }, (_, batch) => batch),
          (batch) =>
            log.write(
              Array.from(
                { length: Math.min(1000, count - batch * 1000) },
                (_, index) => entry({ ...template, receivedAt: at(offset + batch * 1000 + index) })
              ),
              []
            ),
          { discard: true }
        )
      const pruneAll = (before: number, maxRows: number) =>
        Effect.gen(function*() {
          const removed: Array<number> = []
          for (let call = 0; call < 10; call++) {
            const n = yield* log.prune(before, maxRows)
            removed.push(n)
            if (n === 0) break
          }
          return removed
        })

      yield* write(12_001, 0)
      assert.deepStrictEqual(yield* pruneAll(T + 12_001, 1_000_000), [5000, 5000, 2001, 0], "by age")
      assert.deepStrictEqual(yield* log.search({ limit: 10 }), [])

      yield* write(12_001, 100_000)
      assert.deepStrictEqual(yield* pruneAll(0, 1000), [5000, 5000, 1001, 0], "by count")
      const kept = yield* log.search({ limit: 5000 })
      assert.strictEqual(kept.length, 1000)
      assert.strictEqual(kept[0]!.receivedAt.getTime(), T + 100_000 + 12_000)
      assert.strictEqual(kept[999]!.receivedAt.getTime(), T + 100_000 + 11_001)
    }))

  it.scopedLive(
    "an entry removed by age out of seq order: the count rule keeps maxRows all the same",
    () =>
      Effect.gen(function*() {
        const { log } = yield* open
        // Six entries in write (seq) order; the fifth was received long before the others (a request that waited on
        // a slow sink, answered after later ones; or an entry written after a failed batch).
        const offsets = [1000, 2000, 3000, 4000, -HOUR, 6000]
        yield* log.write(
          offsets.map((offset, index) =>
            entry(notificationOf(variant("ping.json", { id: `notif_gap_${index}` }), at(offset)))
          ),
          []
        )
        yield* log.prune(T, 4)
        // The old one goes by age; of the five left, the newest four stay.
        assert.deepStrictEqual(
          (yield* log.search({ limit: 100 })).map((logged) => logged.notificationId),
          ["notif_gap_5", "notif_gap_3", "notif_gap_2", "notif_gap_1"]
        )
      })
  )

  it.scopedLive("a search the log has no entries for, and an empty log, list nothing", () =>
    Effect.gen(function*() {
      const { log } = yield* open
      assert.deepStrictEqual(yield* log.search({ limit: 10 }), [])
      assert.deepStrictEqual(yield* log.search({ topic: "ping", since: at(0), until: at(1), limit: 10 }), [])
      assert.deepStrictEqual(yield* log.minutes(0), [])
      assert.strictEqual(yield* log.prune(T, 1000), 0)
      assert.isTrue(Option.isNone(yield* log.get(1)))
      yield* log.write([], [])
      assert.deepStrictEqual(yield* log.search({ limit: 10 }), [])
    }))
}

// ---------------------------------------------------------------------------------------------------------------
// The property: any entries, any search, the store lists what a model of the contract lists.

const ids = ["n1", "n2", "n3", "n4", "n5"]
const items = ["i1", "i2", "i3"]
/** Intercom's topic strings used in the property: several per canonical topic, the canonical names too, unknown ones. */
const intercomPool = [
  "contact.lead.created",
  "contact.user.created",
  "user.created",
  "contacts.created",
  "contact.deleted",
  "contact.user.tag.created",
  "conversation.admin.closed",
  "conversation.user.created",
  "conversation.admin.single.created",
  "conversation.admin.assigned",
  "ping",
  "visitor.signed_up",
  "ticket.created"
]
const canonicalTopics = [...new Set(Object.values(intercomTopics))]
const searchTopics = [...intercomPool, ...canonicalTopics, "nothing.here"]
const templateOf: Record<string, string> = {
  "contacts.created": "contact-lead-created.json",
  "contacts.deleted": "contact-deleted.json",
  "contacts.tagCreated": "contact-user-tag-created.json",
  "conversations.closed": "conversation-admin-closed.json",
  "conversations.created": "conversation-user-created.json",
  "conversations.assigned": "conversation-admin-assigned.json",
  "ping": "ping.json"
}

interface Generated {
  readonly topic: string
  readonly id: string | null
  readonly item: string
  readonly second: number
}

const generatedNotification = ({ id, item, second, topic }: Generated): NotificationBytes => {
  const canonical = canonicalTopic(topic)
  const template = templateOf[canonical ?? "contacts.created"]!
  return notificationOf(
    variant(template, { id, topic, ...(canonical === "ping" ? {} : { itemId: item }) }),
    at(second * 1000)
  )
}

/** Entity strings the generated notifications can have, and some they never have. */
const entityPool = [
  ...new Set(
    intercomPool.flatMap((topic) =>
      [...items.flatMap((item) => ids.map((id) => ({ topic, id, item, second: 0 }))), {
        topic,
        id: null,
        item: "i1",
        second: 0
      }].map((generated) => generatedNotification(generated).deliveryKey)
    )
  ),
  "contact:nobody",
  "conversation:i9"
]

const generatedArbitrary = FastCheck.record({
  topic: FastCheck.constantFrom(...intercomPool),
  id: FastCheck.option(FastCheck.constantFrom(...ids), { nil: null }),
  item: FastCheck.constantFrom(...items),
  second: FastCheck.integer({ min: 0, max: 4 })
})

/** Absent three times in five: a search of every filter at once mostly lists nothing. */
const sometimes = <A>(arbitrary: FastCheck.Arbitrary<A>) =>
  FastCheck.oneof({ arbitrary: FastCheck.constant(undefined), weight: 3 }, { arbitrary, weight: 2 })

const searchArbitrary = FastCheck.record({
  anyOf: sometimes(
    FastCheck.record({
      ids: FastCheck.subarray([...ids, "n9"]),
      entities: FastCheck.subarray(entityPool, { maxLength: 4 })
    })
  ),
  topic: sometimes(FastCheck.constantFrom(...searchTopics)),
  since: sometimes(FastCheck.integer({ min: -1, max: 5 })),
  until: sometimes(FastCheck.integer({ min: -1, max: 5 })),
  /** After the entry of this index in write order (or beyond every seq), at its receive time or at this second. */
  after: sometimes(
    FastCheck.record({
      second: FastCheck.oneof(FastCheck.constant(undefined), FastCheck.integer({ min: -1, max: 5 })),
      index: FastCheck.integer({ min: 0, max: 40 })
    })
  ),
  limit: FastCheck.integer({ min: 1, max: 45 })
})

/**
 * The store's answer to any search over any entries (ids repeated or null, entities shared, every kind of topic string,
 * receive times on five instants so that ties abound), written in 1-3 batches, equals the model's: the contract's
 * filters, then receive time descending, seq descending, then the limit.
 */
export const logSearchProperty = (open: Effect.Effect<LogStores, never, Scope.Scope>, numRuns: number) =>
  it.scopedLive.prop(
    "any entries, any search: the store lists what the model of the contract lists",
    [
      FastCheck.array(generatedArbitrary, { maxLength: 36, size: "max" }),
      FastCheck.integer({ min: 1, max: 3 }),
      searchArbitrary
    ],
    ([generated, batches, search]) =>
      Effect.gen(function*() {
        const { log } = yield* open
        const written = generated.map((one, index) =>
          entry(generatedNotification(one), index % 3 === 0 ? [] : ["file"])
        )
        const size = Math.ceil(written.length / batches)
        for (let start = 0; start < written.length; start += size) {
          yield* log.write(written.slice(start, start + size), [])
        }
        // The seq of each entry: the full listing, oldest seq first, is what was written, in write order.
        const listing = [...yield* log.search({ limit: 1000 })].sort((a, b) => a.seq - b.seq)
        assert.deepStrictEqual(listing.map(withoutSeq), written.map(expectedOf))
        const rows = listing.map((logged, index) => ({ logged, entry: written[index]! }))

        const afterEntry = search.after === undefined ? undefined : listing[search.after.index]
        const after = search.after === undefined ? undefined : {
          receivedAt: search.after.second === undefined
            ? afterEntry?.receivedAt.getTime() ?? T + 5000
            : T + search.after.second * 1000,
          seq: afterEntry?.seq ?? (listing[listing.length - 1]?.seq ?? 0) + 1
        }
        const query: LogSearch = {
          anyOf: search.anyOf,
          topic: search.topic,
          since: search.since === undefined ? undefined : at(search.since * 1000),
          until: search.until === undefined ? undefined : at(search.until * 1000),
          after,
          limit: search.limit
        }
        const topicMatches = (notification: NotificationBytes) =>
          query.topic === undefined ||
          (canonicalTopics.includes(query.topic as never)
            ? notification.topic === query.topic
            : notification.intercomTopic === query.topic)
        const expected = rows.filter(({ entry: { notification }, logged }) => {
          const time = notification.receivedAt.getTime()
          return (query.anyOf === undefined ||
            (notification.id !== null && query.anyOf.ids.includes(notification.id)) ||
            query.anyOf.entities.includes(notification.deliveryKey)) &&
            topicMatches(notification) &&
            (query.since === undefined || time >= query.since.getTime()) &&
            (query.until === undefined || time <= query.until.getTime()) &&
            (after === undefined || time < after.receivedAt || (time === after.receivedAt && logged.seq < after.seq))
        })
          .sort((a, b) =>
            b.entry.notification.receivedAt.getTime() - a.entry.notification.receivedAt.getTime() ||
            b.logged.seq - a.logged.seq
          )
          .slice(0, query.limit)
          .map(({ logged }) => logged)
        assert.deepStrictEqual(yield* log.search(query), expected)
      }),
    { fastCheck: { numRuns }, timeout: 240_000 }
  )
