import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sign } from "../src/pipeline/Signature.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { mirrorHostileSuite } from "./support/MirrorHostile.js"
import { type MirrorStore, mirrorSuite } from "./support/MirrorSuite.js"
import { spawnService } from "./support/Service.js"
import { SECRET } from "./support/TestServer.js"

/** `use` on a connection of its own to the service's store, closed after. */
const withStore = <A>(dataDir: string, readonly: boolean, use: (db: Database.Database) => A) =>
  Effect.sync(() => {
    const db = new Database(join(dataDir, "receiver.db"), { readonly, timeout: 5000 })
    try {
      return use(db)
    } finally {
      db.close()
    }
  })

const sqliteRows = (dataDir: string, sql: string) =>
  withStore(dataDir, true, (db) => db.prepare(sql).all() as ReadonlyArray<Record<string, unknown>>)

const created = loadFixtures().find((fixture) => fixture.file === "contact-user-created.json")!.json as {
  data: { item: object }
}

describe("the mirror sink (SQLite)", () => {
  const store: MirrorStore = {
    env: {},
    query: (server, sql) => sqliteRows(server.dataDir, sql),
    rewriteDeadLetter: (server, notificationId, body) =>
      Effect.asVoid(
        withStore(server.dataDir, false, (db) =>
          db.prepare("UPDATE dead_letters SET body = ? WHERE notification_id = ?").run(
            Buffer.from(body),
            notificationId
          ))
      ),
    exec: (server, sql) => Effect.asVoid(withStore(server.dataDir, false, (db) => db.exec(sql))),
    refuseContact: (server, id) =>
      Effect.asVoid(withStore(server.dataDir, false, (db) =>
        db.exec(
          `CREATE TRIGGER refuse_contact BEFORE INSERT ON intercom_contacts WHEN NEW.id = '${id}'
          BEGIN SELECT RAISE(ABORT, 'planted: this contact is refused'); END`
        ))),
    forgetVersionRepair: (server) =>
      Effect.asVoid(
        withStore(server.dataDir, false, (db) =>
          db.prepare("DELETE FROM mirror_repairs WHERE name = 'versions_bounded'").run())
      )
  }
  mirrorSuite(Effect.succeed(store))
  mirrorHostileSuite(Effect.succeed(store))

  it.scopedLive(
    "SIGKILL during a burst: every acknowledged notification has its row, none a row twice",
    () =>
      Effect.gen(function*() {
        const dataDir = mkdtempSync(join(tmpdir(), "mirror-kill-"))
        const service = yield* spawnService({ DATA_DIR: dataDir, SINKS: "mirror" })
        const acked: Array<string> = []
        const post = (index: number) => {
          const id = `k${index}`
          const body = Buffer.from(JSON.stringify({
            ...created,
            id: `notif_kill_${index}`,
            data: { item: { ...created.data.item, id } }
          }))
          return Effect.promise(() =>
            fetch(`${service.url}/webhooks/intercom`, {
              method: "POST",
              headers: { "content-type": "application/json", "x-hub-signature": sign(SECRET, body) },
              body
            }).then((response) => response.status === 200 ? void acked.push(id) : undefined, () => undefined)
          )
        }
        const sending = yield* Effect.fork(
          Effect.forEach(Array.from({ length: 400 }, (_, index) => index), post, { concurrency: 16, discard: true })
        )
        yield* eventually("some acknowledgements", Effect.sync(() => acked.length), (n) => n >= 100)
        service.process.kill("SIGKILL")
        yield* sending.await
        assert.isBelow(acked.length, 400, "the kill landed during the burst")

        const found = yield* sqliteRows(dataDir, "SELECT id FROM intercom_contacts")
        const ids = found.map((row) => row.id as string)
        assert.strictEqual(new Set(ids).size, ids.length, "one row per contact")
        for (const id of acked) assert.include(ids, id, `${id} acknowledged but not mirrored`)
        const seen = yield* sqliteRows(dataDir, "SELECT COUNT(*) AS n FROM seen_log")
        assert.strictEqual(seen[0]!.n, ids.length, "each row's notification id recorded in the same commit")
      }),
    60_000
  )
})
