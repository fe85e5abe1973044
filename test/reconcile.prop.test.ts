import { assert, describe, layer } from "@effect/vitest"
import Database from "better-sqlite3"
import { Context, Effect, Either, FastCheck, Layer, Logger, LogLevel, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { StoreSettings } from "../src/config/ReceiverConfig.js"
import { restContactChanges, restConversationChanges } from "../src/mirror/RestRows.js"
import { contactRow, conversationRow, type Item, type MirrorChange, type Times } from "../src/mirror/Rows.js"
import { Outbox } from "../src/store/Outbox.js"
import { ReconcileStore } from "../src/store/Reconcile.js"
import * as Store from "../src/store/Store.js"
import { storeSettings } from "./support/StoreSettings.js"

/**
 * Notifications that arrive while a sweep reads the same objects from Intercom's REST API: whatever the order in which
 * the notifications (retried or not) and the REST snapshots reach the real SQLite store, the mirror ends at the newest
 * state and never goes back to an older one on the way.
 *
 * Times are modelled in milliseconds, as they pass at Intercom; the store only ever sees unix seconds: an item's
 * `updated_at` (the second of its change), a notification's `created_at` (the second it was made, a few seconds after
 * the change at most) and a snapshot's `fetchedAt`.
 */

/** Every history starts after this second (2026-03-01T00:00:00Z). */
const BASE = 1_772_323_200

// --- the store, one per test, and a reader of its mirror tables ---------------------------------------------------

/** A row of the mirror as read back: its version and what tells the states of the history apart. */
interface Stored {
  readonly updatedAt: number | null
  readonly notifiedAt: number | null
  /** The state's own values, e.g. `name|email`; the same text as `Subject.label` of the item it came from. */
  readonly label: string
  /** The item kept as `data`, parsed: it must be the state the columns come from. */
  readonly data: Item
}

class MirrorReader extends Context.Tag("test/MirrorReader")<MirrorReader, {
  readonly contact: (id: string) => Stored | undefined
  readonly conversation: (id: string) => Stored | undefined
}>() {}

const settingsAt = (dir: string): StoreSettings => storeSettings({ dir })

type Row = Record<string, unknown>

const stored = (row: Row | undefined, label: (row: Row) => string): Stored | undefined =>
  row === undefined ? undefined : {
    updatedAt: row.updated_at as number | null,
    notifiedAt: row.notified_at as number | null,
    label: label(row),
    data: JSON.parse(String(row.data)) as Item
  }

/** A real SQLite store in a temp dir (removed afterwards) and a read-only connection to it (WAL: sees each commit). */
const StoreLive = Layer.unwrapScoped(
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "reconcile-prop-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    ),
    (dir) => {
      const reader = Layer.scoped(
        MirrorReader,
        Effect.map(
          Effect.acquireRelease(
            Effect.sync(() => new Database(join(dir, "receiver.db"), { readonly: true })),
            (db) => Effect.sync(() => db.close())
          ),
          (db) => {
            const contact = db.prepare<[string], Row>("SELECT * FROM intercom_contacts WHERE id = ?")
            const conversation = db.prepare<[string], Row>("SELECT * FROM intercom_conversations WHERE id = ?")
            return MirrorReader.of({
              contact: (id) => stored(contact.get(id), (row) => `${String(row.name)}|${String(row.email)}`),
              conversation: (id) =>
                stored(
                  conversation.get(id),
                  (row) =>
                    `${String(row.state)}|${row.open === null ? "null" : String(row.open === 1)}|${
                      String(row.admin_assignee_id)
                    }`
                )
            })
          }
        )
      )
      // The store first: it makes the database file the reader opens.
      return reader.pipe(Layer.provideMerge(Store.layerWith(settingsAt(dir), "service")))
    }
  )
).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.None)))

// --- contacts and conversations alike -----------------------------------------------------------------------------

/** One kind of mirrored object: its Intercom JSON at a state, and the changes a notification or a REST read makes. */
interface Subject {
  readonly kind: "contact" | "conversation"
  /** Intercom's JSON of the object in state `index` of its history, changed at `updatedAt` (unix seconds). */
  readonly item: (id: string, index: number, updatedAt: number, state: ConversationState) => Item
  /** What `Stored.label` reads back from a row holding `item`. */
  readonly label: (item: Item) => string
  /** A webhook notification's change (as `mirrorChanges` makes it for the topic). */
  readonly notified: (item: Item, times: Times) => MirrorChange
  /** A REST read's changes, as a sweep makes them. */
  readonly fetched: (item: Item, fetchedAt: number) => ReadonlyArray<MirrorChange>
  readonly read: (reader: MirrorReader["Type"], id: string) => Stored | undefined
}

type ConversationState = "open" | "closed" | "snoozed"

const contacts: Subject = {
  kind: "contact",
  item: (id, index, updatedAt) => ({
    type: "contact",
    id,
    workspace_id: "prop",
    role: "user",
    external_id: `external-${id}`,
    email: `v${index}.${id}@example.com`,
    name: `${id} version ${index}`,
    created_at: BASE,
    updated_at: updatedAt,
    tags: { type: "list", data: [] }
  }),
  label: (item) => `${String(item.name)}|${String(item.email)}`,
  notified: (item, times) => ({ _tag: "UpsertContact", row: Either.getOrThrow(contactRow(item, times)) }),
  fetched: (item, fetchedAt) => Either.getOrThrow(restContactChanges(item, new Map(), fetchedAt)),
  read: (reader, id) => reader.contact(id)
}

const conversations: Subject = {
  kind: "conversation",
  item: (id, index, updatedAt, state) => ({
    type: "conversation",
    id,
    created_at: BASE,
    updated_at: updatedAt,
    state,
    open: state === "open",
    admin_assignee_id: 1000 + index,
    team_assignee_id: null
  }),
  label: (item) => `${String(item.state)}|${String(item.open)}|${String(item.admin_assignee_id)}`,
  notified: (item, times) => ({ _tag: "UpsertConversation", row: Either.getOrThrow(conversationRow(item, times)) }),
  fetched: (item, fetchedAt) => Either.getOrThrow(restConversationChanges(item, fetchedAt)),
  read: (reader, id) => reader.conversation(id)
}

// --- applying changes and checking the row after each -------------------------------------------------------------

/** How a change reaches the store: a sweep's page (`applyItems`), or the outbox replaying a notification's changes. */
type Path = "applyItems" | "applyMirror"

/** One delivery to the store: the changes of one notification or one REST read, and the state they carry. */
interface Delivery {
  readonly what: string
  readonly path: Path
  readonly changes: ReadonlyArray<MirrorChange>
  /** The version the store orders it by. */
  readonly updatedAt: number
  readonly notifiedAt: number
  readonly label: string
}

const apply = (delivery: Delivery) =>
  Effect.gen(function*() {
    if (delivery.path === "applyMirror") {
      yield* (yield* Outbox).applyMirror(delivery.changes)
      return Option.none<boolean>()
    }
    const [outcome] = yield* (yield* ReconcileStore).applyItems([delivery.changes])
    assert.isDefined(outcome)
    assert.isTrue(Either.isRight(outcome!), `the store refuses ${delivery.what}`)
    const upsert = Either.getOrThrow(outcome!).find((done) => done.table !== "intercom_contact_tags")
    return Option.fromNullable(upsert?.applied)
  })

/** Compares two versions, (updated_at, notified_at), as the store's version rule orders them. */
const compare = (a: { readonly updatedAt: number; readonly notifiedAt: number }, b: typeof a): number =>
  Math.sign(a.updatedAt - b.updatedAt) || Math.sign(a.notifiedAt - b.notifiedAt)

/**
 * Applies `deliveries` in their order, checking after each that the row holds the newest version applied so far (so
 * its version never goes down) with that state's values, columns and `data` alike (never an older state's values
 * under a newer version), and that `applyItems` says it changed the row when it brought a newer version and left it
 * when it brought an older one. Of states given the same version (a retry, the same state read again; or, in the
 * same second, two states the store cannot tell apart) the row may keep any. Returns the trace, for failure messages.
 */
const applyAll = (subject: Subject, id: string, deliveries: ReadonlyArray<Delivery>) =>
  Effect.gen(function*() {
    const reader = yield* MirrorReader
    let best: Delivery | undefined
    let labels = new Set<string>()
    const trace: Array<string> = []
    for (const delivery of deliveries) {
      trace.push(`${delivery.what} (${delivery.updatedAt}, ${delivery.notifiedAt}) by ${delivery.path}`)
      const applied = yield* apply(delivery)
      const order = best === undefined ? 1 : compare(delivery, best)
      if (order !== 0 && Option.isSome(applied)) {
        assert.strictEqual(applied.value, order > 0, `the outcome of ${delivery.what}:\n${trace.join("\n")}`)
      }
      if (order > 0) {
        best = delivery
        labels = new Set([delivery.label])
      } else if (order === 0) {
        labels.add(delivery.label)
      }
      const row = subject.read(reader, id)
      const message = `after:\n${trace.join("\n")}\nthe row is ${JSON.stringify(row)}`
      assert.isDefined(row, message)
      assert.strictEqual(row!.updatedAt, best!.updatedAt, message)
      assert.strictEqual(row!.notifiedAt, best!.notifiedAt, message)
      assert.isTrue(labels.has(row!.label), message)
      assert.strictEqual(subject.label(row!.data), row!.label, message)
      assert.strictEqual(row!.data.updated_at, row!.updatedAt, message)
    }
    return trace
  })

/** `items` ordered by `keys` (one sort key each, ties in their own order): a random interleaving fast-check shrinks. */
const interleave = <A>(items: ReadonlyArray<A>, keys: ReadonlyArray<number>): Array<A> =>
  items
    .map((item, index) => ({ item, key: keys[index] ?? 0, index }))
    .sort((a, b) => a.key - b.key || a.index - b.index)
    .map(({ item }) => item)

let runs = 0
const freshId = (subject: Subject, property: string) => `${subject.kind}-${property}-${++runs}`

// --- property 1: a history of states, its notifications and REST snapshots interleaved --------------------------

const MAX_VERSIONS = 8
const MAX_SNAPSHOTS = 4
const MAX_DELIVERIES = 2 * MAX_VERSIONS + MAX_SNAPSHOTS

/** One state of the history: when it was changed, and how its notification is made and delivered. */
const versionPlan = FastCheck.record({
  /** Whole seconds after the previous state's (the first: after `BASE`): every state has its own `updated_at`. */
  gap: FastCheck.integer({ min: 1, max: 10 }),
  /** Where in its second the change was made. */
  millis: FastCheck.integer({ min: 0, max: 999 }),
  /** The notification's `created_at`: this many seconds after the `updated_at`. */
  notifyDelay: FastCheck.integer({ min: 0, max: 5 }),
  /** It is received this many seconds after its `created_at`. */
  receiveDelay: FastCheck.integer({ min: 0, max: 3 }),
  /** Intercom delivers it again (a retry): the same notification, a second time. */
  retried: FastCheck.boolean(),
  paths: FastCheck.tuple(
    FastCheck.constantFrom<Path>("applyItems", "applyMirror"),
    FastCheck.constantFrom<Path>("applyItems", "applyMirror")
  ),
  state: FastCheck.constantFrom<ConversationState>("open", "closed", "snoozed")
})

/** A REST read: when, within the history (from 2 s before its first change to 8 s after its last), in ten-thousandths. */
const snapshotPlan = FastCheck.record({
  at: FastCheck.integer({ min: 0, max: 10_000 }),
  /**
   * Seconds between the second of the read and the `fetchedAt` the sweep gives it: it takes the time when it turns
   * the page into changes, after the response (and a page takes time).
   */
  lag: FastCheck.integer({ min: 0, max: 2 })
})

const histories = FastCheck.record({
  versions: FastCheck.array(versionPlan, { minLength: 1, maxLength: MAX_VERSIONS }),
  snapshots: FastCheck.array(snapshotPlan, { maxLength: MAX_SNAPSHOTS }),
  order: FastCheck.array(FastCheck.nat(1000), { minLength: MAX_DELIVERIES, maxLength: MAX_DELIVERIES })
})

type History = typeof histories extends FastCheck.Arbitrary<infer T> ? T : never

/** The deliveries of a history, in the order they are made (before interleaving); the states, oldest first. */
const deliveriesOf = (subject: Subject, id: string, history: History) => {
  let second = BASE
  const states = history.versions.map((plan, index) => {
    second += plan.gap
    const item = subject.item(id, index, second, plan.state)
    return { plan, index, item, updatedAt: second, changedMs: second * 1000 + plan.millis, label: subject.label(item) }
  })
  const deliveries: Array<Delivery> = []
  for (const state of states) {
    const notifiedAt = state.updatedAt + state.plan.notifyDelay
    const times: Times = { notifiedAt, received: notifiedAt + state.plan.receiveDelay }
    for (const [attempt, path] of state.plan.paths.slice(0, state.plan.retried ? 2 : 1).entries()) {
      deliveries.push({
        what: `the notification of state ${state.index}${attempt === 0 ? "" : " (retried)"}`,
        path,
        changes: [subject.notified(state.item, times)],
        updatedAt: state.updatedAt,
        notifiedAt,
        label: state.label
      })
    }
  }
  const from = (states[0]!.updatedAt - 2) * 1000
  const to = (states.at(-1)!.updatedAt + 8) * 1000
  for (const [index, snapshot] of history.snapshots.entries()) {
    const readMs = from + Math.floor((to - from) * snapshot.at / 10_000)
    // The state the API answers with: the last one changed by the time of the read (none: the object did not exist).
    const state = states.filter((candidate) => candidate.changedMs <= readMs).at(-1)
    if (state === undefined) continue
    const fetchedAt = Math.floor(readMs / 1000) + snapshot.lag
    deliveries.push({
      what: `REST read ${index} (state ${state.index}, read at ${readMs} ms)`,
      path: "applyItems",
      changes: subject.fetched(state.item, fetchedAt),
      updatedAt: state.updatedAt,
      notifiedAt: fetchedAt,
      label: state.label
    })
  }
  return { states, deliveries }
}

// --- property 2: two states in the same second, a REST read and one notification ---------------------------------

/**
 * States A then B of an object, changed in the same second `BASE + second` (the store sees one `updated_at`), a REST
 * read at or after A's change (it answers B once B was made), and the notification of A or of B. The snapshot's
 * `fetchedAt` is the second of the read: the REST object is the state at `fetchedAt` (see `RestRows`).
 */
const sameSecond = FastCheck.record({
  second: FastCheck.integer({ min: 1, max: 1000 }),
  changes: FastCheck.uniqueArray(FastCheck.integer({ min: 0, max: 999 }), { minLength: 2, maxLength: 2 }),
  /** The read, this many milliseconds after A's change. */
  readAfter: FastCheck.integer({ min: 0, max: 3000 }),
  /** Of which state the notification is: mostly the other one than the read answers with. */
  notification: FastCheck.constantFrom<"other" | "read">("other", "other", "other", "read"),
  /** The notification's `created_at` is the second of its change plus this many milliseconds. */
  notifyDelay: FastCheck.integer({ min: 0, max: 5000 }),
  states: FastCheck.tuple(
    FastCheck.constantFrom<ConversationState>("open", "closed", "snoozed"),
    FastCheck.constantFrom<ConversationState>("open", "closed", "snoozed")
  ),
  paths: FastCheck.tuple(
    FastCheck.constantFrom<Path>("applyItems", "applyMirror"),
    FastCheck.constantFrom<Path>("applyItems", "applyMirror")
  )
})

type SameSecond = typeof sameSecond extends FastCheck.Arbitrary<infer T> ? T : never

/**
 * The times the store is given, and which of the REST read and the notification must win: the one with the newer
 * state, when the times tell it. They do when the notification was made in an earlier second than the read (its state
 * is at most as new as the one read), or when its change came after the read and it was made in a later second than
 * the read. Otherwise (made in the second of the read; a notification of an older state made in a later second than
 * the read) nothing the store is given tells them apart: `winner` is null.
 */
const decided = (plan: SameSecond) => {
  const [first, second] = [...plan.changes].sort((a, b) => a - b) as [number, number]
  const base = (BASE + plan.second) * 1000
  const aMs = base + first
  const bMs = base + second
  const readMs = aMs + plan.readAfter
  const readSecond = Math.floor(readMs / 1000)
  const read = readMs >= bMs ? "B" : "A"
  const notified = plan.notification === "read" ? read : read === "A" ? "B" : "A"
  const changedMs = notified === "A" ? aMs : bMs
  const notifiedAt = Math.floor((changedMs + plan.notifyDelay) / 1000)
  const newer = changedMs > readMs ? "notification" : "read"
  const winner = notified === read || notifiedAt < readSecond || (newer === "notification" && notifiedAt > readSecond)
    ? newer
    : null
  return {
    updatedAt: BASE + plan.second,
    /** The REST object is the state at `fetchedAt` (see `RestRows`): the second of the read. */
    fetchedAt: readSecond,
    read,
    notified,
    notifiedAt,
    received: notifiedAt + 1,
    winner
  } as const
}

describe("notifications that arrive during a reconcile interleave correctly (SQLite)", () => {
  layer(StoreLive, { excludeTestServices: true })((it) => {
    for (const subject of [contacts, conversations]) {
      it.effect.prop(
        `a ${subject.kind}'s notifications (some retried) and REST reads in any order: the row ends at the last state and never goes back`,
        [histories],
        ([history]) =>
          Effect.gen(function*() {
            const id = freshId(subject, "history")
            const { deliveries, states } = deliveriesOf(subject, id, history)
            const trace = yield* applyAll(subject, id, interleave(deliveries, history.order))
            const last = states.at(-1)!
            const row = subject.read(yield* MirrorReader, id)
            const message = `after:\n${trace.join("\n")}`
            assert.strictEqual(row?.updatedAt, last.updatedAt, message)
            assert.strictEqual(row?.label, last.label, message)
          }),
        { fastCheck: { numRuns: 200 } }
      )

      it.effect.prop(
        `a ${subject.kind} changed twice in one second: a REST read and a notification, either order, the newer wins when the times tell`,
        [sameSecond.filter((plan) => decided(plan).winner !== null)],
        ([plan]) =>
          Effect.gen(function*() {
            const times = decided(plan)
            for (const readFirst of [true, false]) {
              const id = freshId(subject, "same-second")
              const item = (name: "A" | "B") =>
                subject.item(id, name === "A" ? 0 : 1, times.updatedAt, plan.states[name === "A" ? 0 : 1])
              const read: Delivery = {
                what: `the REST read of ${times.read}`,
                path: "applyItems",
                changes: subject.fetched(item(times.read), times.fetchedAt),
                updatedAt: times.updatedAt,
                notifiedAt: times.fetchedAt,
                label: subject.label(item(times.read))
              }
              const notification: Delivery = {
                what: `the notification of ${times.notified}`,
                path: plan.paths[readFirst ? 0 : 1],
                changes: [subject.notified(item(times.notified), times)],
                updatedAt: times.updatedAt,
                notifiedAt: times.notifiedAt,
                label: subject.label(item(times.notified))
              }
              const trace = yield* applyAll(subject, id, readFirst ? [read, notification] : [notification, read])
              const newest = times.winner === "read" ? read : notification
              assert.strictEqual(subject.read(yield* MirrorReader, id)?.label, newest.label, trace.join("\n"))
            }
          }),
        { fastCheck: { numRuns: 200 } }
      )
    }
  })
})
