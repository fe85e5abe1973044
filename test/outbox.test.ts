import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { join } from "node:path"
import { loadFixtures } from "./support/Fixtures.js"
import { outboxSuite } from "./support/OutboxSuite.js"
import { startServer } from "./support/TestServer.js"

const fixtures = loadFixtures()
const fixture = (topic: string) => fixtures.find((candidate) => candidate.topic === topic)!

describe("the outbox (SQLite)", () => {
  outboxSuite(Effect.succeed({}))

  it.scopedLive("a store locked past STORE_BUSY_TIMEOUT_MS answers 503, never 2xx", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ SINKS: "file", STORE_BUSY_TIMEOUT_MS: "100" })
      assert.strictEqual((yield* server.post(fixture("contacts.created").bytes)).status, 200)
      const other = new Database(join(server.dataDir, "receiver.db"))
      other.exec("BEGIN EXCLUSIVE")
      const locked = yield* server.post(fixture("contacts.deleted").bytes)
      other.exec("ROLLBACK")
      other.close()
      assert.strictEqual(locked.status, 503)
      assert.strictEqual(locked.json.error, "storage_unavailable")
      assert.strictEqual((yield* server.post(fixture("contacts.deleted").bytes)).json.status, "accepted")
    }))
})
