import Database from "better-sqlite3"
import { Data, Effect, type Scope } from "effect"

/** Another running service holds the SQLite store: a second one would deliver its outbox twice. */
export class StoreInUse extends Data.TaggedError("StoreInUse")<{ readonly message: string }> {}

/** The file whose lock says a service runs on the store at `storePath`. */
export const lockPath = (storePath: string) => `${storePath}.lock`

/**
 * Holds, for the scope, an exclusive lock that one service at a time can have on the SQLite store at `storePath`
 * (its outbox workers, its in-memory dedupe index). The lock is SQLite's own, on `<storePath>.lock`: an open
 * `BEGIN EXCLUSIVE` on an empty database, held by the kernel for this process, so a service killed by any signal
 * leaves no stale lock behind. `npm run replay` does not take it.
 */
export const holdStoreLock = (storePath: string): Effect.Effect<Database.Database, StoreInUse, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const lock = new Database(lockPath(storePath), { timeout: 0 })
        try {
          lock.pragma("journal_mode = MEMORY")
          lock.exec("BEGIN EXCLUSIVE")
          return lock
        } catch (error) {
          lock.close()
          throw error
        }
      },
      catch: (error) =>
        new StoreInUse({
          message: (error as { code?: string }).code === "SQLITE_BUSY"
            ? `another running service uses the SQLite store ${storePath} (it holds ${
              lockPath(storePath)
            }): stop it, give this one its own STORE_PATH, or share a PostgreSQL store (STORE_URL) between instances`
            : `cannot lock ${lockPath(storePath)}: ${String(error)}`
        })
    }),
    (lock) => Effect.sync(() => lock.close())
  )
