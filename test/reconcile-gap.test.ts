import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { join } from "node:path"
import { promisify } from "node:util"
import { eventually } from "./support/Eventually.js"
import { fakeIntercomBehindPrism } from "./support/intercom/Harness.js"
import { dataDir as dataDirOf, logLines, spawnService, stopService } from "./support/Service.js"

const intercom = fakeIntercomBehindPrism()

const root = new URL("..", import.meta.url).pathname

const dataDir = dataDirOf("reconcile-gap-")

/** The service's settings: the mirror, gap recovery through Prism, a gap of 2 s, sweeps after gaps only. */
const env = (dir: string) => ({
  DATA_DIR: dir,
  SINKS: "mirror",
  INTERCOM_ACCESS_TOKEN: intercom.fake.token,
  INTERCOM_API_URL: intercom.prism.url,
  RECONCILE_GAP: "2s",
  RECONCILE_INTERVAL: "off",
  RECONCILE_MARGIN: "1s",
  LOG_FORMAT: "json"
})

const rows = (dir: string, sql: string, ...params: Array<unknown>) => {
  const db = new Database(join(dir, "receiver.db"), { readonly: true, timeout: 5000 })
  try {
    return db.prepare(sql).all(...params) as Array<Record<string, unknown>>
  } finally {
    db.close()
  }
}

const stop = stopService

const nowIso = (secondsAgo = 0) => new Date(Date.now() - secondsAgo * 1000).toISOString()

/** The mirror's view of a contact: what the comparison with the fake looks at. */
const mirroredContacts = (dir: string) =>
  new Map(
    rows(dir, "SELECT id, name, email, updated_at, deleted_at FROM intercom_contacts").map((row) => [row.id, row])
  )

describe("gap recovery through real processes (SQLite)", () => {
  it.scopedLive(
    "after the service was down, the mirror equals Intercom for everything changed while it was",
    () =>
      Effect.gen(function*() {
        const dir = yield* dataDir
        const contacts = Array.from({ length: 20 }, (_, index) =>
          intercom.fake.createContact({ name: `Before ${index}` }))
        const conversations = contacts.slice(0, 5).map((contactId) =>
          intercom.fake.createConversation({ contactId })
        )
        const first = yield* Effect.scoped(Effect.gen(function*() {
          const service = yield* spawnService(env(dir))
          // The store holds nothing yet: `npm run reconcile` fills the mirror from Intercom, beside the running service.
          const { stdout } = yield* Effect.promise(() =>
            promisify(execFile)(process.execPath, [
              "--import",
              "tsx",
              "scripts/reconcile.ts",
              "--since",
              nowIso(3600)
            ], { cwd: root, env: { ...process.env, ...env(dir) } })
          )
          assert.match(stdout, /contacts: +\d+ read, \d+ changed/)
          assert.match(stdout, /conversations: +\d+ read, \d+ changed/)
          yield* stop(service)
          return service
        }))
        assert.lengthOf(logLines(first, "a gap: no instance was alive; its changes will be read from Intercom"), 0)
        assert.strictEqual(mirroredContacts(dir).get(contacts[0]!)?.name, "Before 0")

        // Down for longer than RECONCILE_GAP while Intercom's data changes.
        yield* Effect.sleep("2500 millis")
        intercom.fake.updateContact(contacts[0]!, { name: "Renamed while down" })
        intercom.fake.updateContact(contacts[1]!, { email: "moved@example.com" })
        intercom.fake.tagContact(contacts[2]!, "vip")
        intercom.fake.tagContact(contacts[3]!, "churn-risk")
        intercom.fake.deleteContact(contacts[4]!)
        intercom.fake.deleteContact(contacts[5]!)
        const added = [
          intercom.fake.createContact({ name: "New while down" }),
          intercom.fake.createContact({ role: "lead" })
        ]
        const opened = intercom.fake.createConversation({ contactId: added[0]! })
        intercom.fake.assignConversation(conversations[0]!, 4242)
        intercom.fake.closeConversation(conversations[1]!)
        yield* Effect.sleep("1200 millis")

        const second = yield* spawnService(env(dir))
        yield* eventually(
          "the gap's sweep",
          Effect.sync(() => logLines(second, "sweep done").length),
          (n) => n >= 1,
          "30 seconds"
        )
        assert.lengthOf(logLines(second, "a gap: no instance was alive; its changes will be read from Intercom"), 1)

        const mirrored = mirroredContacts(dir)
        for (const id of [...contacts, ...added]) {
          const expected = intercom.fake.contact(id)
          const row = mirrored.get(id)
          assert.isDefined(row, `contact ${id} is in the mirror`)
          if (expected === undefined) {
            assert.isNotNull(row!.deleted_at, `contact ${id}, deleted at Intercom, is deleted in the mirror`)
            continue
          }
          assert.isNull(row!.deleted_at, `contact ${id} is not deleted`)
          assert.deepStrictEqual(
            { name: row!.name, email: row!.email, updated_at: row!.updated_at },
            { name: expected.name, email: expected.email, updated_at: expected.updated_at },
            `contact ${id}`
          )
        }
        const tags = rows(dir, "SELECT contact_id, tag_name FROM intercom_contact_tags ORDER BY contact_id")
        assert.deepStrictEqual(
          tags.filter((row) => contacts.includes(row.contact_id as string)),
          [{ contact_id: contacts[2], tag_name: "vip" }, { contact_id: contacts[3], tag_name: "churn-risk" }].sort((
            a,
            b
          ) => a.contact_id!.localeCompare(b.contact_id!))
        )
        const conversationRows = new Map(
          rows(dir, "SELECT id, state, admin_assignee_id, updated_at FROM intercom_conversations").map((row) => [
            row.id,
            row
          ])
        )
        for (const id of [...conversations, opened]) {
          const expected = intercom.fake.conversations().find((conversation) => conversation.id === id)!
          assert.deepStrictEqual(conversationRows.get(id), {
            id,
            state: expected.state,
            admin_assignee_id: expected.admin_assignee_id === null ? null : String(expected.admin_assignee_id),
            updated_at: expected.updated_at
          })
        }

        const metrics = yield* Effect.promise(() => fetch(`${second.url}/metrics`).then((answer) => answer.text()))
        assert.match(metrics, /intercom_webhook_reconcile_sweeps_total\{workspace="default",outcome="done"\} 1/)
        assert.match(metrics, /intercom_webhook_reconcile_gaps_total 1/)
        assert.match(
          metrics,
          /intercom_webhook_reconcile_rows_total\{table="intercom_contacts",outcome="applied"\} \d+/
        )
        const versions = new Set(intercom.fake.requests.map((request) => request.intercomVersion))
        assert.deepStrictEqual([...versions], ["2.14"])
        yield* stop(second)
      }),
    120_000
  )

  it.scopedLive(
    "a sweep killed half-way resumes from the cursor it recorded, and finishes",
    () =>
      Effect.gen(function*() {
        const dir = yield* dataDir
        const many = Array.from({ length: 3000 }, () => intercom.fake.createContact())
        yield* Effect.scoped(Effect.flatMap(spawnService(env(dir)), stop))
        yield* Effect.sleep("2500 millis")
        intercom.fake.setDelay(150)
        const from = intercom.fake.requests.length
        const searches = (after: number) =>
          intercom.fake.requests.slice(after).filter((request) => request.path === "/contacts/search")

        yield* Effect.scoped(Effect.gen(function*() {
          const service = yield* spawnService(env(dir))
          yield* eventually("four pages read", Effect.sync(() => searches(from).length), (n) => n >= 4, "60 seconds")
          service.process.kill("SIGKILL")
          yield* Effect.promise(() => service.exited)
        }))
        const [recorded] = rows(dir, "SELECT phase, cursor FROM reconcile_state WHERE workspace = 'default'")
        assert.strictEqual(recorded!.phase, "contacts")
        assert.isString(recorded!.cursor, "a cursor was recorded before the kill")

        intercom.fake.setDelay(0)
        const resumedFrom = intercom.fake.requests.length
        const service = yield* spawnService(env(dir))
        yield* eventually(
          "the resumed sweep",
          Effect.sync(() => logLines(service, "sweep done").length),
          (n) => n >= 1,
          "60 seconds"
        )
        assert.lengthOf(logLines(service, "sweep resumed"), 1)
        const firstAfter = searches(resumedFrom)[0]!.body as { pagination?: { starting_after?: string } }
        assert.strictEqual(firstAfter.pagination?.starting_after, recorded!.cursor)
        // The restart may itself be a gap (the kill and the start take longer than RECONCILE_GAP): a sweep of its own
        // follows, from the first page. The resumed sweep's pages are those read before it said it was done.
        const doneAt = Date.parse(JSON.parse(logLines(service, "sweep done")[0]!).timestamp)
        const fromStart = searches(resumedFrom).filter((request) =>
          request.at <= doneAt &&
          (request.body as { pagination?: { starting_after?: string } }).pagination?.starting_after === undefined
        )
        assert.lengthOf(fromStart, 0, "the resumed sweep read no contact page from the start again")
        const mirrored = mirroredContacts(dir)
        assert.deepStrictEqual(many.filter((id) => !mirrored.has(id)), [])
        yield* stop(service)
      }),
    180_000
  )

  it.scopedLive(
    "on its interval a running service reads what changed with no notification; a failed sweep says why and is retried",
    () =>
      Effect.gen(function*() {
        const dir = yield* dataDir
        let broken = 1
        intercom.fake.setTamper((request, status, body) =>
          request.path === "/contacts/search" && status === 200 && broken-- > 0 ? { ...body, data: "not a list" } : body
        )
        yield* Effect.addFinalizer(() => Effect.sync(() => intercom.fake.setTamper(undefined)))
        const service = yield* spawnService({ ...env(dir), RECONCILE_INTERVAL: "10s" })
        const id = intercom.fake.createContact({ name: "Changed with no notification" })

        yield* eventually(
          "a failed sweep",
          Effect.sync(() => logLines(service, "sweep failed; it resumes where it got")),
          (lines) => lines.length >= 1,
          "30 seconds"
        )
        const failure = JSON.parse(logLines(service, "sweep failed; it resumes where it got")[0]!) as {
          logLevel: string
          annotations: { error: string; retry_in: string }
        }
        assert.strictEqual(failure.logLevel, "ERROR")
        assert.match(failure.annotations.error, /searching contacts failed with 500/)
        assert.strictEqual(failure.annotations.retry_in, "5s")
        yield* eventually(
          "the sweep retried",
          Effect.sync(() => logLines(service, "sweep done").length),
          (n) => n >= 1,
          "30 seconds"
        )
        assert.strictEqual(mirroredContacts(dir).get(id)?.name, "Changed with no notification")
        const metrics = yield* Effect.promise(() => fetch(`${service.url}/metrics`).then((answer) => answer.text()))
        assert.match(metrics, /intercom_webhook_reconcile_sweeps_total\{workspace="default",outcome="failed"\} 1/)
        assert.match(metrics, /intercom_webhook_reconcile_gaps_total 0/)
        yield* stop(service)
      }),
    120_000
  )
})
