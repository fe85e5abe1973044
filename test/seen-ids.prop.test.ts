import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { FastCheck } from "effect"
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SEEN_MIGRATION, seenIds } from "../src/store/SqliteSeen.js"

const WINDOW = 1_000

type Op =
  | { readonly _tag: "claim"; readonly id: number }
  | { readonly _tag: "rolledBack"; readonly id: number }
  | { readonly _tag: "takeBack" }
  | { readonly _tag: "advance"; readonly ms: number }
  | { readonly _tag: "prune" }
  | { readonly _tag: "reopen" }

const ids = Array.from({ length: 12 }, (_, index) => `notif_${index}`)
const op: FastCheck.Arbitrary<Op> = FastCheck.oneof(
  { weight: 6, arbitrary: FastCheck.nat(ids.length - 1).map((id) => ({ _tag: "claim", id }) as const) },
  { weight: 1, arbitrary: FastCheck.nat(ids.length - 1).map((id) => ({ _tag: "rolledBack", id }) as const) },
  { weight: 1, arbitrary: FastCheck.constant({ _tag: "takeBack" } as const) },
  // Mostly forward, by up to 0.8 of the window or to just short of a claim's expiry; sometimes back (a clock set back).
  {
    weight: 4,
    arbitrary: FastCheck.oneof(FastCheck.integer({ min: -300, max: 800 }), FastCheck.integer({ min: 860, max: 999 }))
      .map((ms) => ({ _tag: "advance", ms }) as const)
  },
  { weight: 1, arbitrary: FastCheck.constant({ _tag: "prune" } as const) },
  { weight: 1, arbitrary: FastCheck.constant({ _tag: "reopen" } as const) }
)

const open = (path: string) => {
  const db = new Database(path)
  db.pragma("journal_mode = WAL")
  for (const statement of SEEN_MIGRATION) db.exec(statement)
  return db
}

const withStore = <A>(work: (path: string) => A): A => {
  const folder = mkdtempSync(join(tmpdir(), "seen-ids-"))
  try {
    return work(join(folder, "store.db"))
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}

class RolledBack extends Error {}

describe("the SQLite store's dedupe memory (seen_log and its in-memory index)", () => {
  it.prop(
    "answers as a list of claims would: claimed within the window, whatever rolls back, is taken back, pruned or reopened",
    [FastCheck.array(op, { maxLength: 80 })],
    ([ops]) =>
      withStore((path) => {
        let now = 1_764_547_200_000
        let db = open(path)
        let seen = seenIds(db, WINDOW, now)
        /** Claims in effect, in claim order. */
        const claims: Array<{ readonly id: string; readonly at: number; readonly seq: number }> = []
        /** Claims older than this may have been pruned, and a clock set back can bring them into the window again. */
        let pruned = -Infinity
        try {
          for (const step of ops) {
            const oldest = now - WINDOW
            if (step._tag === "claim") {
              const id = ids[step.id]!
              const surely = claims.some((claim) => claim.id === id && claim.at >= Math.max(oldest, pruned))
              const maybe = claims.some((claim) => claim.id === id && claim.at >= oldest)
              const seq = db.transaction(() => seen.claim(id, now, oldest))()
              if (surely) assert.isUndefined(seq, `${id} claimed again at ${now} within the window`)
              if (!maybe) assert.isDefined(seq, `${id} not claimed since ${oldest}, yet a duplicate at ${now}`)
              if (seq !== undefined) claims.push({ id, at: now, seq })
            } else if (step._tag === "rolledBack") {
              assert.throws(() =>
                db.transaction(() => {
                  seen.claim(ids[step.id]!, now, oldest)
                  throw new RolledBack()
                })()
              )
            } else if (step._tag === "takeBack") {
              const last = claims.pop()
              if (last !== undefined) db.transaction(() => seen.unclaim([last.seq]))()
            } else if (step._tag === "advance") {
              now += step.ms
            } else if (step._tag === "prune") {
              seen.prune(oldest)
              pruned = Math.max(pruned, oldest)
            } else {
              db.close()
              db = open(path)
              seen = seenIds(db, WINDOW, now)
              pruned = Math.max(pruned, oldest)
            }
            const window = now - WINDOW
            for (const id of ids) {
              const inWindow = claims.filter((claim) => claim.id === id && claim.at >= window)
              const kept = inWindow.filter((claim) => claim.at >= pruned)
              const answer = seen.has(id, window)
              if (kept.length > 0) assert.isTrue(answer, `${id} claimed at ${kept[0]!.at}, asked at ${now}`)
              if (inWindow.length === 0) assert.isFalse(answer, `${id} not claimed since ${window}`)
            }
          }
        } finally {
          db.close()
        }
      })
  )

  it("20,000 random ids over a window: every one found after a restart, none of 20,000 others; 8-24 bytes an id", () =>
    withStore((path) => {
      const start = 1_764_547_200_000
      const claimed = Array.from({ length: 20_000 }, () => `notif_${randomUUID()}`)
      const db = open(path)
      const seen = seenIds(db, WINDOW, start)
      db.transaction(() =>
        claimed.forEach((id, index) => assert.isDefined(seen.claim(id, start + index / 20, start - WINDOW)))
      )()
      db.close()
      const now = start + 999
      const reopened = open(path)
      const again = seenIds(reopened, WINDOW, now)
      try {
        assert.isTrue(claimed.every((id) => again.has(id, now - WINDOW)))
        const others = Array.from({ length: 20_000 }, () => `notif_${randomUUID()}`)
        assert.isTrue(others.every((id) => !again.has(id, now - WINDOW)))
        assert.isBelow(others.filter(again.mayHave).length, 20, "ids never claimed that send the lookup to disk")
        assert.isAtLeast(again.indexBytes(), 8 * claimed.length)
        assert.isAtMost(again.indexBytes(), 24 * claimed.length)
      } finally {
        reopened.close()
      }
    }))

  it("a prune keeps a claim 1 ms short of its expiry, in the index and on disk, also across a restart", () =>
    withStore((path) => {
      const claimedAt = 1_764_547_200_100
      const db = open(path)
      try {
        const seen = seenIds(db, WINDOW, claimedAt)
        assert.isDefined(db.transaction(() => seen.claim("notif_edge", claimedAt, claimedAt - WINDOW))())
        const oldest = claimedAt - 1
        seen.prune(oldest)
        assert.isTrue(seen.has("notif_edge", oldest))
        assert.isTrue(seenIds(db, WINDOW, oldest + WINDOW).has("notif_edge", oldest))
        seen.prune(claimedAt + 1)
        assert.isFalse(seen.has("notif_edge", claimedAt + 1))
      } finally {
        db.close()
      }
    }))

  it("a store made before seen_log keeps its ids: they move to seen_log, and the old table goes", () =>
    withStore((path) => {
      const now = 1_764_547_200_000
      const before = new Database(path)
      before.exec("CREATE TABLE seen (notification_id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL) WITHOUT ROWID")
      before.exec("CREATE INDEX seen_at ON seen (seen_at)")
      const insert = before.prepare("INSERT INTO seen (notification_id, seen_at) VALUES (?, ?)")
      insert.run("notif_recent", now - 10)
      insert.run("notif_early", now - 500)
      insert.run("notif_expired", now - 2 * WINDOW)
      before.close()
      const db = open(path)
      try {
        const seen = seenIds(db, WINDOW, now)
        assert.isTrue(seen.has("notif_recent", now - WINDOW))
        assert.isTrue(seen.has("notif_early", now - WINDOW))
        assert.isFalse(seen.has("notif_expired", now - WINDOW))
        assert.isUndefined(db.transaction(() => seen.claim("notif_early", now, now - WINDOW))())
        assert.deepStrictEqual(
          db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'seen%' ORDER BY name").pluck().all(),
          ["seen_log"]
        )
        assert.deepStrictEqual(
          db.prepare("SELECT notification_id FROM seen_log ORDER BY seq").pluck().all(),
          ["notif_early", "notif_recent"]
        )
      } finally {
        db.close()
      }
    }))
})
