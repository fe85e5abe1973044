import type Database from "better-sqlite3"
import { Effect, Either, Option } from "effect"
import type { MirrorChange } from "../mirror/Rows.js"
import type { MirrorCounts } from "./Mirror.js"
import { StoreUnavailable } from "./Outbox.js"
import { type ItemOutcome, ReconcileStore, type SweepPhase } from "./Reconcile.js"
import { type prepareMirror } from "./SqliteMirror.js"

/** How long an instance's last sign of life is kept once it stopped beating, in seconds. */
const ALIVE_KEPT = 7 * 86_400

export const RECONCILE_MIGRATION = [
  "CREATE TABLE IF NOT EXISTS instances_alive (instance TEXT PRIMARY KEY, alive_at INTEGER NOT NULL)",
  `CREATE TABLE IF NOT EXISTS reconcile_state (
    workspace TEXT PRIMARY KEY,
    watermark INTEGER NOT NULL,
    pending_since INTEGER,
    window_since INTEGER,
    window_until INTEGER,
    window_deletions INTEGER,
    phase TEXT,
    cursor TEXT
  )`
]

interface VersionRow {
  readonly id: string
  readonly updated_at: number | null
  readonly same: number
}

/** The rows of `table` among `[[id, data], ...]` (a JSON array), with whether each one's data is that text. */
const versionsOf = (table: string) =>
  `SELECT t.id, t.updated_at, t.data = json_extract(v.value, '$[1]') AS same
  FROM json_each(?) AS v JOIN ${table} AS t ON t.id = json_extract(v.value, '$[0]')`

interface StateRow {
  readonly watermark: number
  readonly pending_since: number | null
  readonly window_since: number | null
  readonly window_until: number | null
  readonly window_deletions: number | null
  readonly phase: SweepPhase | null
  readonly cursor: string | null
}

export const toState = (row: StateRow) => ({
  watermark: row.watermark,
  pendingSince: row.pending_since,
  sweep: row.phase === null || row.window_since === null || row.window_until === null
    ? null
    : {
      window: { since: row.window_since, until: row.window_until, deletions: Boolean(row.window_deletions) },
      phase: row.phase,
      cursor: row.cursor
    }
})

const unavailable = (error: unknown) =>
  new StoreUnavailable({ message: error instanceof Error ? error.message : String(error) })

const attempt = <A>(work: () => A): Effect.Effect<A, StoreUnavailable> => Effect.try({ try: work, catch: unavailable })

/**
 * Gap recovery's part of the SQLite store. One service holds an SQLite store at a time (`StoreLock`), so its lease is
 * always this process's.
 */
export const make = (
  db: Database.Database,
  mirror: ReturnType<typeof prepareMirror>,
  mirrorCounts: MirrorCounts,
  syncWal: Effect.Effect<void, StoreUnavailable>
): ReconcileStore["Type"] => {
  const statements = {
    latest: db.prepare<[], number | null>("SELECT max(alive_at) FROM instances_alive").pluck(),
    alive: db.prepare<[string, number]>(
      `INSERT INTO instances_alive (instance, alive_at) VALUES (?, ?)
      ON CONFLICT (instance) DO UPDATE SET alive_at = excluded.alive_at`
    ),
    forget: db.prepare<[number]>("DELETE FROM instances_alive WHERE alive_at < ?"),
    gap: db.prepare<[{ workspace: string; since: number }]>(
      `INSERT INTO reconcile_state (workspace, watermark, pending_since) VALUES (@workspace, @since, @since)
      ON CONFLICT (workspace) DO UPDATE SET pending_since = min(COALESCE(pending_since, @since), @since)`
    ),
    state: db.prepare<[string], StateRow>("SELECT * FROM reconcile_state WHERE workspace = ?"),
    create: db.prepare<[string, number]>(
      "INSERT INTO reconcile_state (workspace, watermark) VALUES (?, ?) ON CONFLICT (workspace) DO NOTHING"
    ),
    begin: db.prepare<[number, number, number, string]>(
      `UPDATE reconcile_state SET window_since = ?, window_until = ?, window_deletions = ?, phase = 'contacts',
      cursor = NULL, pending_since = NULL WHERE workspace = ?`
    ),
    advance: db.prepare<[string, string | null, string]>(
      "UPDATE reconcile_state SET phase = ?, cursor = ? WHERE workspace = ?"
    ),
    finish: db.prepare<[number, string]>(
      `UPDATE reconcile_state SET watermark = max(watermark, ?), window_since = NULL, window_until = NULL,
      window_deletions = NULL, phase = NULL, cursor = NULL WHERE workspace = ?`
    ),
    contactVersions: db.prepare<[string], VersionRow>(versionsOf("intercom_contacts")),
    conversationVersions: db.prepare<[string], VersionRow>(versionsOf("intercom_conversations")),
    live: db.prepare<[string], string>(
      `SELECT id FROM intercom_contacts WHERE deleted_at IS NULL AND json_valid(data)
      AND json_extract(data, '$.workspace_id') = ?`
    ).pluck()
  }

  const beat = db.transaction((instance: string, now: number, gap: number, workspaces: ReadonlyArray<string>) => {
    const latest = statements.latest.get() ?? null
    if (latest !== null && now - latest > gap) {
      for (const workspace of workspaces) statements.gap.run({ workspace, since: latest })
    }
    statements.alive.run(instance, now)
    statements.forget.run(now - ALIVE_KEPT)
    return latest
  })

  const state = db.transaction((workspace: string, now: number) => {
    statements.create.run(workspace, now)
    return toState(statements.state.get(workspace)!)
  })

  const applyItems = db.transaction((items: ReadonlyArray<ReadonlyArray<MirrorChange>>): Array<ItemOutcome> =>
    items.map((changes) => mirror(changes))
  )

  return ReconcileStore.of({
    beat: (instance, now, gap, workspaces) =>
      Effect.map(attempt(() => beat(instance, now, gap, workspaces)), Option.fromNullable),
    state: (workspace, now) => attempt(() => state(workspace, now)),
    begin: (workspace, window) =>
      attempt(() => void statements.begin.run(window.since, window.until, Number(window.deletions), workspace)),
    advance: (workspace, phase, cursor) => attempt(() => void statements.advance.run(phase, cursor, workspace)),
    finish: (workspace, until) => attempt(() => void statements.finish.run(until, workspace)),
    applyItems: (items) =>
      attempt(() => applyItems(items)).pipe(
        Effect.tap((outcomes) =>
          Effect.sync(() => outcomes.forEach((outcome) => Either.map(outcome, (done) => mirrorCounts.record(done))))
        ),
        Effect.zipLeft(syncWal)
      ),
    versions: (table, rows) =>
      attempt(() =>
        new Map(
          (table === "intercom_contacts" ? statements.contactVersions : statements.conversationVersions)
            .all(JSON.stringify(rows.map(({ data, id }) => [id, data])))
            .map((row) => [row.id, { updatedAt: row.updated_at, sameData: row.same === 1 }])
        )
      ),
    liveContactIds: (workspaceId) => attempt(() => statements.live.all(workspaceId)),
    exclusive: (_workspace, work) => work
  })
}
