/**
 * What one dedupe claim costs the SQLite store's event loop: the store's own dedupe memory (`SqliteSeen`: `seen_log` and
 * its in-memory index), filled with ids shaped as Intercom's (random UUIDs), then a dedupe read and a claim per
 * notification, claims committed in batches of 16 as concurrent accepts are. WAL checkpoints run inside those commits,
 * on the caller's thread. Also prints how long opening a store with that many ids takes, and the index's memory.
 * Usage: npx tsx scripts/bench/seen-claims.ts [rows already seen, default 100000] [wal_autocheckpoint pages, default 1000]
 */
import Database from "better-sqlite3"
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SEEN_MIGRATION, seenIds } from "../../src/store/SqliteSeen.js"
import { median } from "./median.js"

const rows = Number(process.argv[2] ?? 100_000)
const checkpointPages = Number(process.argv[3] ?? 1000)
const windowMs = 86_400_000
const folder = mkdtempSync(join(tmpdir(), "seen-claims-"))
const path = join(folder, "seen.db")
const open = () => {
  const db = new Database(path)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.pragma(`wal_autocheckpoint = ${checkpointPages}`)
  for (const statement of SEEN_MIGRATION) db.exec(statement)
  return db
}

const filling = open()
const filled = seenIds(filling, windowMs, Date.now())
filling.transaction(() => {
  for (let row = 0; row < rows; row++) filled.claim(`notif_${randomUUID()}`, Date.now(), 0)
})()
filling.close()

const opening = performance.now()
const db = open()
const seen = seenIds(db, windowMs, Date.now())
const openMs = performance.now() - opening
const batch = db.transaction((ids: ReadonlyArray<string>, now: number) => {
  for (const id of ids) seen.claim(id, now, now - windowMs)
})

const rounds: Array<number> = []
const commits: Array<number> = []
for (let round = 0; round < 5; round++) {
  const started = performance.now()
  for (let commit = 0; commit < 1000; commit++) {
    const ids = Array.from({ length: 16 }, () => `notif_${randomUUID()}`)
    for (const id of ids) if (seen.mayHave(id)) seen.has(id, 0)
    const committing = performance.now()
    batch(ids, Date.now())
    commits.push(performance.now() - committing)
  }
  rounds.push(((performance.now() - started) * 1000) / 16_000)
}
commits.sort((a, b) => a - b)
const indexMb = seen.indexBytes() / 1_048_576
db.close()
rmSync(folder, { recursive: true, force: true })
console.log(
  `${rows} ids seen, wal_autocheckpoint ${checkpointPages}: ${median(rounds).toFixed(1)} µs per read + claim ` +
    `(median of ${rounds.map((us) => us.toFixed(1)).join(" / ")}); opening the store ${openMs.toFixed(0)} ms; ` +
    `index ${indexMb.toFixed(1)} MB; a commit of 16 claims: p99 ${
      commits[Math.floor(commits.length * 0.99)]!.toFixed(2)
    } ms, ` +
    `longest ${commits[commits.length - 1]!.toFixed(1)} ms`
)
