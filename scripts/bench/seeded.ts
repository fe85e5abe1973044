/** A store as a day of traffic leaves it: the service's own SQLite file, its `seen_log` holding many ids. */
import Database from "better-sqlite3"
import { join } from "node:path"
import { intercomId } from "./requests.js"
import type { Server } from "./server.js"

/**
 * Starts the service once on a store file of its own (so that it makes its own tables), stops it, then fills
 * `seen_log` with `count` Intercom-shaped ids claimed over the last 24 hours (the default `DEDUPE_WINDOW`), oldest
 * first as the service appends them. Returns the file's
 * path: copy it for each run, which then starts on the same store.
 */
export const seededStore = async (
  work: string,
  count: number,
  start: (env: Record<string, string>) => Promise<Server>
): Promise<string> => {
  const path = join(work, "seeded.db")
  await (await start({ STORE_PATH: path })).stop()
  const db = new Database(path)
  const insert = db.prepare("INSERT INTO seen_log (notification_id, seen_at) VALUES (?, ?)")
  const now = Date.now()
  db.transaction(() => {
    for (let index = 0; index < count; index++) {
      insert.run(intercomId("seen", index), now - Math.floor(((count - index) * 86_400_000) / count))
    }
  })()
  db.pragma("wal_checkpoint(TRUNCATE)")
  db.close()
  return path
}
