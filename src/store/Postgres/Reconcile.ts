import { Duration, Effect, Either, Option } from "effect"
import type { MirrorCounts } from "../Mirror.js"
import { type ItemOutcome, ReconcileStore } from "../Reconcile.js"
import { toState } from "../SqliteReconcile.js"
import type { Database } from "./Database.js"
import type * as Lease from "./Lease.js"
import { applyChanges } from "./Mirror.js"

/** How long an instance's last sign of life is kept once it stopped beating, in seconds. */
const ALIVE_KEPT = 7 * 86_400

/** Longest a page of REST objects may take to apply. */
const APPLY_LIMIT = Duration.minutes(1)

/**
 * Gap recovery's part of the PostgreSQL store. `beat` runs under a transaction-level advisory lock, so that two
 * instances starting together see the same latest sign of life and record the gap once; the sweep of a workspace is
 * leased like a sink in strict order (`Lease`), under the name `reconcile:<workspace>`.
 */
export const make = (
  db: Database,
  lease: ReturnType<typeof Lease.make>,
  mirrorCounts: MirrorCounts
): ReconcileStore["Type"] =>
  ReconcileStore.of({
    beat: (instance, now, gap, workspaces) =>
      db.transaction(Duration.seconds(10), async (query) => {
        await query("SELECT pg_advisory_xact_lock($1)", [7_220_412_002])
        const latest = (await query("SELECT max(alive_at) AS at FROM instances_alive"))[0]?.at as number | null
        if (latest !== null && latest !== undefined && now - latest > gap) {
          for (const workspace of workspaces) {
            await query(
              `INSERT INTO reconcile_state (workspace, watermark, pending_since) VALUES ($1, $2, $2)
              ON CONFLICT (workspace) DO UPDATE SET pending_since = LEAST(COALESCE(reconcile_state.pending_since, $2), $2)`,
              [workspace, latest]
            )
          }
        }
        await query(
          `INSERT INTO instances_alive (instance, alive_at) VALUES ($1, $2)
          ON CONFLICT (instance) DO UPDATE SET alive_at = excluded.alive_at`,
          [instance, now]
        )
        await query("DELETE FROM instances_alive WHERE alive_at < $1", [now - ALIVE_KEPT])
        return Option.fromNullable(latest)
      }),
    state: (workspace, now) =>
      db.transaction(Duration.seconds(10), async (query) => {
        await query(
          "INSERT INTO reconcile_state (workspace, watermark) VALUES ($1, $2) ON CONFLICT (workspace) DO NOTHING",
          [workspace, now]
        )
        const row = (await query("SELECT * FROM reconcile_state WHERE workspace = $1", [workspace]))[0]!
        return toState(
          {
            ...row,
            window_deletions: row.window_deletions === null ? null : Number(row.window_deletions)
          } as Parameters<typeof toState>[0]
        )
      }),
    begin: (workspace, window) =>
      Effect.asVoid(db.query(
        `UPDATE reconcile_state SET window_since = $1, window_until = $2, window_deletions = $3, phase = 'contacts',
        cursor = NULL, pending_since = NULL WHERE workspace = $4`,
        [window.since, window.until, window.deletions, workspace]
      )),
    advance: (workspace, phase, cursor) =>
      Effect.asVoid(db.query("UPDATE reconcile_state SET phase = $1, cursor = $2 WHERE workspace = $3", [
        phase,
        cursor,
        workspace
      ])),
    finish: (workspace, until) =>
      Effect.asVoid(db.query(
        `UPDATE reconcile_state SET watermark = GREATEST(watermark, $1), window_since = NULL, window_until = NULL,
        window_deletions = NULL, phase = NULL, cursor = NULL WHERE workspace = $2`,
        [until, workspace]
      )),
    applyItems: (items) =>
      db.transaction(APPLY_LIMIT, async (query) => {
        const outcomes: Array<ItemOutcome> = []
        for (const changes of items) outcomes.push(await applyChanges(query, changes))
        return outcomes
      }).pipe(
        Effect.tap((outcomes) =>
          Effect.sync(() => outcomes.forEach((outcome) => Either.map(outcome, (done) => mirrorCounts.record(done))))
        )
      ),
    versions: (table, rows) =>
      Effect.map(
        db.query<{ id: string; updated_at: number | null; same: boolean }>(
          `SELECT t.id, t.updated_at, t.data = v.data AS same
          FROM unnest($1::text[], $2::jsonb[]) AS v(id, data) JOIN ${table} AS t ON t.id = v.id`,
          [rows.map((row) => row.id), rows.map((row) => row.data)]
        ),
        (found) =>
          new Map(found.map((row) => [row.id, {
            updatedAt: row.updated_at === null ? null : Number(row.updated_at),
            sameData: row.same
          }]))
      ),
    liveContactIds: (workspaceId) =>
      Effect.map(
        db.query<{ id: string }>(
          "SELECT id FROM intercom_contacts WHERE deleted_at IS NULL AND data->>'workspace_id' = $1",
          [workspaceId]
        ),
        (rows) => rows.map((row) => row.id)
      ),
    exclusive: (workspace, work) => lease.exclusive(`reconcile:${workspace}`, work)
  })
