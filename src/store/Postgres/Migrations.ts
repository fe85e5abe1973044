import { Duration, Effect } from "effect"
import type { Database } from "./Database.js"
import * as CreateOutbox from "./migrations/00001_create_outbox.js"
import * as CreateSinkLeases from "./migrations/00002_create_sink_leases.js"
import * as CreateMirror from "./migrations/00003_create_mirror.js"
import * as DeliveryKeys from "./migrations/00004_delivery_keys.js"
import * as BucketLeases from "./migrations/00005_bucket_leases.js"
import * as MirrorVersionsBounded from "./migrations/00006_mirror_versions_bounded.js"
import * as Reconcile from "./migrations/00007_reconcile.js"
import * as DeadLettersWaiting from "./migrations/00008_dead_letters_waiting.js"
import * as NotificationLog from "./migrations/00009_notification_log.js"

export interface Migration {
  readonly id: number
  readonly name: string
  readonly statements: ReadonlyArray<string>
}

/** Every migration, in order; a new one gets the next number and is never edited once released. */
export const migrations: ReadonlyArray<Migration> = [
  { id: 1, name: "create_outbox", statements: CreateOutbox.statements },
  { id: 2, name: "create_sink_leases", statements: CreateSinkLeases.statements },
  { id: 3, name: "create_mirror", statements: CreateMirror.statements },
  { id: 4, name: "delivery_keys", statements: DeliveryKeys.statements },
  { id: 5, name: "bucket_leases", statements: BucketLeases.statements },
  { id: 6, name: "mirror_versions_bounded", statements: MirrorVersionsBounded.statements },
  { id: 7, name: "reconcile", statements: Reconcile.statements },
  { id: 8, name: "dead_letters_waiting", statements: DeadLettersWaiting.statements },
  { id: 9, name: "notification_log", statements: NotificationLog.statements }
]

/** Any fixed number, the same in every instance: the key of the lock that serialises migrations. */
const LOCK = 7_220_412_001

/**
 * Applies the migrations the database lacks, in one transaction under a transaction-level advisory lock: instances
 * starting at the same moment take turns, and the later ones find nothing left to do. A failed migration rolls back
 * whole and stops the start.
 */
export const migrate = (db: Database) =>
  db.transaction(Duration.minutes(5), async (query) => {
    await query("SELECT pg_advisory_xact_lock($1)", [LOCK])
    await query(`CREATE TABLE IF NOT EXISTS receiver_migrations (
      id integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const applied = new Set((await query("SELECT id FROM receiver_migrations")).map((row) => row.id as number))
    const pending = migrations.filter((migration) => !applied.has(migration.id))
    for (const migration of pending) {
      for (const statement of migration.statements) await query(statement)
      await query("INSERT INTO receiver_migrations (id, name) VALUES ($1, $2)", [migration.id, migration.name])
    }
    return pending.map((migration) => migration.name)
  }).pipe(
    Effect.tap((names) =>
      names.length === 0 ? Effect.void : Effect.logInfo("store migrated").pipe(Effect.annotateLogs("applied", names))
    )
  )
