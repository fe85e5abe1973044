import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { loadFixtures } from "./support/Fixtures.js"
import { outboxSuite } from "./support/OutboxSuite.js"
import { startServer } from "./support/TestServer.js"

const fixtures = loadFixtures()
const fixture = (topic: string) => fixtures.find((candidate) => candidate.topic === topic)!
const root = new URL("..", import.meta.url).pathname
/** Locks the database at argv[1] for argv[2] ms from another process; prints a line once it holds the lock. */
const holdLock = `const db = require("better-sqlite3")(process.argv[1])
db.exec("BEGIN EXCLUSIVE")
console.log("locked")
setTimeout(() => { db.exec("ROLLBACK"); db.close() }, Number(process.argv[2]))`

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

  it.scopedLive("a store written before seen_log keeps its dedupe memory: an id it took is a duplicate after the upgrade", () =>
    Effect.gen(function*() {
      const dataDir = yield* Effect.acquireRelease(
        Effect.promise(() => mkdtemp(join(tmpdir(), "receiver-upgrade-"))),
        (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
      )
      const taken = fixture("contacts.created")
      const before = new Database(join(dataDir, "receiver.db"))
      before.exec("CREATE TABLE seen (notification_id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL) WITHOUT ROWID")
      before.exec("CREATE INDEX seen_at ON seen (seen_at)")
      before.prepare("INSERT INTO seen VALUES (?, ?)").run((taken.json as { id: string }).id, Date.now() - 60_000)
      before.close()
      const server = yield* startServer({ SINKS: "file", DATA_DIR: dataDir })
      assert.strictEqual((yield* server.post(taken.bytes)).json.status, "duplicate")
      assert.strictEqual((yield* server.post(fixture("contacts.deleted").bytes)).json.status, "accepted")
      assert.strictEqual((yield* server.records()).length, 1)
    }))

  it.scopedLive("STORE_BUSY_TIMEOUT_MS is how long a write waits: a lock held a little longer by another process gives 503", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ SINKS: "file", STORE_BUSY_TIMEOUT_MS: "100" })
      assert.strictEqual((yield* server.post(fixture("contacts.created").bytes)).status, 200)
      const holder = spawn(process.execPath, ["-e", holdLock, join(server.dataDir, "receiver.db"), "1500"], {
        cwd: root,
        stdio: ["ignore", "pipe", "inherit"]
      })
      const released = new Promise<number | null>((resolve) => holder.once("exit", resolve))
      yield* Effect.promise(() => new Promise<void>((resolve) => holder.stdout!.once("data", () => resolve())))
      const locked = yield* server.post(fixture("contacts.deleted").bytes)
      assert.strictEqual(yield* Effect.promise(() => released), 0)
      assert.strictEqual(locked.status, 503, "answered before the lock was released, not after")
      assert.strictEqual(locked.json.error, "storage_unavailable")
    }))
})
