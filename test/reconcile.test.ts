import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Layer, Logger, LogLevel, Redacted } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach } from "vitest"
import type { StoreSettings } from "../src/config/ReceiverConfig.js"
import { restContactChanges } from "../src/mirror/RestRows.js"
import * as IntercomApi from "../src/reconcile/IntercomApi.js"
import { emptyTally, sweep, type SweepTally } from "../src/reconcile/Sweep.js"
import { ReconcileStore, type SweepWindow } from "../src/store/Reconcile.js"
import * as Store from "../src/store/Store.js"
import { DEFAULT_RATE_LIMIT } from "./support/intercom/FakeIntercom.js"
import { fakeIntercomBehindPrism } from "./support/intercom/Harness.js"
import type { Exchange } from "./support/intercom/Prism.js"
import { storeSettings } from "./support/StoreSettings.js"

const intercom = fakeIntercomBehindPrism()

afterEach(() => {
  intercom.fake.setRateLimit(DEFAULT_RATE_LIMIT)
  intercom.fake.setTamper(undefined)
})

const settingsAt = (dir: string): StoreSettings => storeSettings({ dir })

/** A fresh SQLite store and the API through Prism, for one test; the rate-limit waits counted. */
const harness = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "reconcile-"))),
    (path) => Effect.sync(() => rmSync(path, { recursive: true, force: true }))
  )
  const context = yield* Layer.build(
    Store.layerWith(settingsAt(dir), "service").pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.None)))
  )
  const store = context.unsafeMap.get(ReconcileStore.key) as ReconcileStore["Type"]
  const waits: Array<{ seconds: number; reason: string }> = []
  const api = yield* IntercomApi.make(
    { apiUrl: new URL(intercom.prism.url), intercomVersion: "2.14" },
    { key: "default", token: Redacted.make(intercom.fake.token) },
    (seconds, reason) => waits.push({ seconds, reason }),
    intercom.prism.fetch
  )
  const rows = (sql: string, ...params: Array<unknown>) => {
    const db = new Database(join(dir, "receiver.db"), { readonly: true })
    try {
      return db.prepare(sql).all(...params) as Array<Record<string, unknown>>
    } finally {
      db.close()
    }
  }
  const run = (window: SweepWindow, tally: SweepTally = emptyTally()) =>
    sweep({ api, store, workspace: "default", persist: true, concurrency: 4 }, {
      window,
      phase: "contacts",
      cursor: null
    }, tally).pipe(Effect.zipLeft(store.finish("default", window.until)))
  return { dir, store, api, waits, rows, run }
})

const now = () => Math.floor(Date.now() / 1000)

/** Exchanges through Prism that broke Intercom's contract (a status it does not declare is only a warning). */
const violations = (from: number): ReadonlyArray<Exchange> =>
  intercom.prism.exchanges.slice(from).filter((exchange) => exchange.violations.some((v) => v.severity === "Error"))

describe("a sweep against Intercom's REST API (the fake, validated by Prism)", () => {
  it.scoped(
    "applies every contact and conversation changed in the window, with their tags",
    () =>
      Effect.gen(function*() {
        const { rows, run, store } = yield* harness
        const since = now()
        const from = intercom.prism.exchanges.length
        const contacts = Array.from({ length: 170 }, (_, index) =>
          intercom.fake.createContact({ name: `Sweep ${index}` }))
        intercom.fake.tagContact(contacts[3]!, "vip")
        intercom.fake.tagContact(contacts[3]!, "beta")
        const conversation = intercom.fake.createConversation({ contactId: contacts[0]! })
        intercom.fake.assignConversation(conversation, 77)
        const closed = intercom.fake.createConversation({ contactId: contacts[1]! })
        intercom.fake.closeConversation(closed)
        yield* store.state("default", since)

        const tally = yield* run({ since, until: now(), deletions: false })

        assert.deepStrictEqual(violations(from), [])
        const mirrored = new Map(
          rows("SELECT id, name, email, role, updated_at FROM intercom_contacts").map((row) => [row.id, row])
        )
        for (const id of contacts) {
          const expected = intercom.fake.contact(id)!
          const row = mirrored.get(id)
          assert.isDefined(row, `contact ${id} is mirrored`)
          assert.strictEqual(row!.name, expected.name)
          assert.strictEqual(row!.email, expected.email)
          assert.strictEqual(row!.updated_at, expected.updated_at)
        }
        const tags = rows(
          "SELECT tag_name FROM intercom_contact_tags WHERE contact_id = ? ORDER BY tag_name",
          contacts[3]
        )
        assert.deepStrictEqual(
          tags.map((row) =>
            row.tag_name
          ),
          ["beta", "vip"]
        )
        const conversations = rows(
          "SELECT id, state, open, admin_assignee_id FROM intercom_conversations WHERE id IN (?, ?) ORDER BY id",
          conversation,
          closed
        )
        assert.deepStrictEqual(conversations, [
          { id: conversation, state: "open", open: 1, admin_assignee_id: "77" },
          { id: closed, state: "closed", open: 0, admin_assignee_id: null }
        ])
        assert.isAtLeast(tally.pages.contacts, 2, "170 contacts take two pages of 150")
        assert.strictEqual(tally.refused, 0)
      }),
    60_000
  )

  it.scoped(
    "changes nothing where the mirror holds a newer state, and counts it unchanged",
    () =>
      Effect.gen(function*() {
        const { rows, run, store } = yield* harness
        const since = now()
        const id = intercom.fake.createContact({ name: "Old name at Intercom" })
        const newer = { ...intercom.fake.contact(id)!, name: "Newer from a notification", updated_at: now() + 60 }
        const changes = restContactChanges(newer, new Map(), now() + 61)
        assert.isTrue(changes._tag === "Right")
        yield* store.applyItems([changes._tag === "Right" ? changes.right : []])

        const tally = yield* run({ since, until: now(), deletions: false })

        assert.deepStrictEqual(rows("SELECT name FROM intercom_contacts WHERE id = ?", id), [{
          name: "Newer from a notification"
        }])
        assert.isAtLeast(tally.rows.intercom_contacts.unchanged, 1)
      }),
    60_000
  )

  it.scoped(
    "a second sweep over the same window rewrites nothing: every object counted unchanged",
    () =>
      Effect.gen(function*() {
        const { run } = yield* harness
        const since = now()
        const contacts = Array.from({ length: 30 }, () => intercom.fake.createContact())
        intercom.fake.tagContact(contacts[0]!, "repeat")
        const first = yield* run({ since, until: now(), deletions: false })
        assert.isAtLeast(first.rows.intercom_contacts.applied, 30)
        intercom.fake.updateContact(contacts[1]!, { name: "Changed between the sweeps" })

        const second = yield* run({ since, until: now(), deletions: false })

        assert.strictEqual(second.rows.intercom_contacts.applied, 1, "only the contact changed since")
        assert.strictEqual(second.rows.intercom_contacts.unchanged, second.read.contacts - 1)
        assert.strictEqual(second.rows.intercom_contact_tags.applied, 0)
      }),
    60_000
  )

  it.scoped("waits out 429s and reads every page", () =>
    Effect.gen(function*() {
      const { rows, run, waits } = yield* harness
      const since = now()
      const contacts = Array.from({ length: 460 }, () => intercom.fake.createContact())
      intercom.fake.setRateLimit({ limit: 2, windowSeconds: 1 })
      const from = intercom.prism.exchanges.length

      yield* run({ since, until: now(), deletions: false })

      const limited = intercom.prism.exchanges.slice(from).filter((exchange) => exchange.status === 429)
      assert.isAtLeast(limited.length + waits.filter((wait) => wait.reason === "exhausted").length, 1)
      assert.isAtLeast(waits.length, 1)
      const mirrored = new Set(rows("SELECT id FROM intercom_contacts").map((row) => row.id))
      assert.deepStrictEqual(contacts.filter((id) => !mirrored.has(id)), [])
    }), 60_000)

  it.scoped(
    "marks deleted the contacts Intercom no longer has, and only those of its workspace",
    () =>
      Effect.gen(function*() {
        const { rows, run, store } = yield* harness
        const since = now()
        const kept = intercom.fake.createContact()
        const gone = [intercom.fake.createContact(), intercom.fake.createContact()]
        yield* run({ since, until: now(), deletions: false })
        const elsewhere = restContactChanges(
          { type: "contact", id: "other-workspace-contact", workspace_id: "another1", updated_at: now() },
          new Map(),
          now()
        )
        yield* store.applyItems([elsewhere._tag === "Right" ? elsewhere.right : []])
        for (const id of gone) intercom.fake.deleteContact(id)

        const tally = yield* run({ since: now(), until: now(), deletions: true })

        const deleted = rows(
          "SELECT id FROM intercom_contacts WHERE deleted_at IS NOT NULL AND id IN (?, ?, ?, ?) ORDER BY id",
          kept,
          ...gone,
          "other-workspace-contact"
        ).map((row) => row.id)
        assert.deepStrictEqual(deleted, [...gone].sort())
        assert.strictEqual(tally.deleted, 2)
        assert.isAtLeast(tally.pages.listing, 1)
      }),
    60_000
  )

  it.scoped(
    "an answer that breaks Intercom's contract fails the sweep, saying which call",
    () =>
      Effect.gen(function*() {
        const { run } = yield* harness
        const since = now()
        intercom.fake.createContact()
        intercom.fake.setTamper((request, status, body) =>
          request.path === "/contacts/search" && status === 200 ? { ...body, data: "not a list" } : body
        )
        const failed = yield* Effect.flip(run({ since, until: now(), deletions: false }))
        assert.strictEqual(failed._tag, "IntercomApiError")
        assert.match(failed.message, /searching contacts failed with 500/)
      }),
    60_000
  )
})
