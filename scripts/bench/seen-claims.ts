/**
 * What one dedupe claim costs the SQLite store's event loop: SqliteOutbox's own `seen` table and statements, filled with
 * ids shaped as Intercom's (random UUIDs), then a dedupe read and a claim per notification, claims committed in batches
 * of 16 as concurrent accepts are. WAL checkpoints run inside those commits, on the caller's thread.
 * Usage: npx tsx scripts/bench/seen-claims.ts [rows already seen, default 100000] [wal_autocheckpoint pages, default 1000]
 */
import Database from "better-sqlite3"
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CLAIM_QUERY, SEEN_MIGRATION, SEEN_QUERY } from "../../src/store/SqliteOutbox.js"
import { median } from "./median.js"

const rows = Number(process.argv[2] ?? 100_000)
const checkpointPages = Number(process.argv[3] ?? 1000)
const folder = mkdtempSync(join(tmpdir(), "seen-claims-"))
const db = new Database(join(folder, "seen.db"))
db.pragma("journal_mode = WAL")
db.pragma("synchronous = NORMAL")
db.pragma(`wal_autocheckpoint = ${checkpointPages}`)
for (const statement of SEEN_MIGRATION) db.exec(statement)
const seen = db.prepare(SEEN_QUERY).pluck()
const claim = db.prepare(CLAIM_QUERY).pluck()
const batch = db.transaction((ids: ReadonlyArray<string>, now: number) => {
  for (const id of ids) claim.get(id, now, now - 86_400_000)
})
db.transaction(() => {
  for (let row = 0; row < rows; row++) claim.get(`notif_${randomUUID()}`, Date.now(), 0)
})()

const rounds: Array<number> = []
for (let round = 0; round < 5; round++) {
  const started = performance.now()
  for (let commit = 0; commit < 1000; commit++) {
    const ids = Array.from({ length: 16 }, () => `notif_${randomUUID()}`)
    for (const id of ids) seen.get(id, 0)
    batch(ids, Date.now())
  }
  rounds.push(((performance.now() - started) * 1000) / 16_000)
}
db.close()
rmSync(folder, { recursive: true, force: true })
console.log(
  `${rows} ids seen, wal_autocheckpoint ${checkpointPages}: ${median(rounds).toFixed(1)} µs per read + claim ` +
    `(median of ${rounds.map((us) => us.toFixed(1)).join(" / ")})`
)
