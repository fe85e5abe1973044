import type Database from "better-sqlite3"
import { SeenIndex } from "./SeenIndex.js"

/**
 * The ids claimed within the dedupe window, in the order they were claimed. Rows are only appended (and pruned from
 * the oldest), so a commit writes the table's last page or two whatever the ids: an index keyed by the ids themselves
 * put each random Intercom id on its own page, a WAL frame per claim and checkpoints that held the event loop for
 * 40-50 ms. The lookup by id is `SeenIndex`, in memory.
 */
export const SEEN_MIGRATION = [
  "CREATE TABLE IF NOT EXISTS seen_log (seq INTEGER PRIMARY KEY, notification_id TEXT NOT NULL, seen_at INTEGER NOT NULL)"
]

/** Stores made before `seen_log` kept their ids in `seen`, keyed by id: moved over once, oldest first. */
const moveOldSeen = (db: Database.Database) => {
  const old = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'seen'").pluck().get()
  if (old === undefined) return
  db.transaction(() => {
    db.exec(
      "INSERT INTO seen_log (notification_id, seen_at) SELECT notification_id, seen_at FROM seen ORDER BY seen_at"
    )
    db.exec("DROP TABLE seen")
  })()
}

const LOAD_CHUNK = 4096

/**
 * Indexes every row, a few thousand at a time, so that the strings read stay young garbage, and column by column:
 * better-sqlite3 makes a row object or array far more slowly than it reads three plain columns.
 */
const load = (db: Database.Database, index: SeenIndex) => {
  const seqs = db.prepare<[number], number>(`SELECT seq FROM seen_log WHERE seq > ? ORDER BY seq LIMIT ${LOAD_CHUNK}`)
    .pluck()
  const column = <A>(name: string) =>
    db.prepare<[number, number], A>(`SELECT ${name} FROM seen_log WHERE seq > ? AND seq <= ? ORDER BY seq`).pluck()
  const ids = column<string>("notification_id")
  const times = column<number>("seen_at")
  db.transaction(() => {
    for (let after = 0;;) {
      const chunk = seqs.all(after)
      if (chunk.length === 0) return
      const last = chunk[chunk.length - 1]!
      const chunkIds = ids.all(after, last)
      const chunkTimes = times.all(after, last)
      for (let row = 0; row < chunk.length; row++) index.add(chunkIds[row]!, chunk[row]!, chunkTimes[row]!)
      after = last
    }
  })()
}

export interface SeenIds {
  /** Whether `id` may have been claimed: false means it was not, without reading the store. */
  readonly mayHave: (id: string) => boolean
  /** Whether `id` was claimed at or after `oldest`. */
  readonly has: (id: string, oldest: number) => boolean
  /**
   * Claims `id` at `now` unless it was claimed at or after `oldest`: the new row's `seq`, or undefined for a
   * duplicate. Runs inside the transaction that commits the claim; a claim rolled back leaves only an index entry
   * whose row never matches.
   */
  readonly claim: (id: string, now: number, oldest: number) => number | undefined
  /** Takes back claims by their rows. */
  readonly unclaim: (seqs: ReadonlyArray<number>) => void
  /** Deletes the claims older than `oldest`, from the first row up to the first claim still in the window. */
  readonly prune: (oldest: number) => void
  /** Memory the in-memory index holds, in bytes. */
  readonly indexBytes: () => number
}

/** The store's dedupe memory: moves an older store's ids over, prunes, and indexes the claims still in the window. */
export const seenIds = (db: Database.Database, windowMs: number, openedAt: number): SeenIds => {
  moveOldSeen(db)
  const statements = {
    append: db.prepare<[string, number]>("INSERT INTO seen_log (notification_id, seen_at) VALUES (?, ?)"),
    holds: db.prepare<[number, string, number], number>(
      "SELECT 1 FROM seen_log WHERE seq = ? AND notification_id = ? AND seen_at >= ?"
    ).pluck(),
    remove: db.prepare<[number]>("DELETE FROM seen_log WHERE seq = ?"),
    prune: db.prepare<[number]>(
      `DELETE FROM seen_log WHERE seq < COALESCE(
        (SELECT seq FROM seen_log WHERE seen_at >= ? ORDER BY seq LIMIT 1),
        (SELECT MAX(seq) + 1 FROM seen_log)
      )`
    )
  }
  const index = new SeenIndex(Math.max(1, Math.floor(windowMs / 8)))

  const has = (id: string, oldest: number) => {
    for (const seq of index.rows(id)) if (statements.holds.get(seq, id, oldest) !== undefined) return true
    return false
  }
  const prune = (oldest: number) => {
    statements.prune.run(oldest)
    index.forget(oldest)
  }

  prune(openedAt - windowMs)
  load(db, index)

  return {
    mayHave: (id) => index.rows(id).length > 0,
    has,
    claim: (id, now, oldest) => {
      if (has(id, oldest)) return undefined
      const seq = Number(statements.append.run(id, now).lastInsertRowid)
      index.add(id, seq, now)
      return seq
    },
    unclaim: (seqs) => seqs.forEach((seq) => statements.remove.run(seq)),
    prune,
    indexBytes: () => index.bytes
  }
}
