import { Context, type Effect, type Either, type Option } from "effect"
import type { MirrorChange } from "../mirror/Rows.js"
import type { MirrorOutcome } from "./Mirror.js"
import type { StoreUnavailable } from "./Outbox.js"

/** The steps of a sweep, in order; `deletions` only when its window asks for it. */
export type SweepPhase = "contacts" | "conversations" | "deletions"

/** The times a sweep reconciles, unix seconds, and whether it looks for deleted contacts too. */
export interface SweepWindow {
  readonly since: number
  readonly until: number
  readonly deletions: boolean
}

/** Where an unfinished sweep stands: the phase it is in and the cursor of the next page to read (none: the first). */
export interface SweepProgress {
  readonly window: SweepWindow
  readonly phase: SweepPhase
  readonly cursor: string | null
}

/** What the store keeps of one workspace's gap recovery. */
export interface ReconcileState {
  /** Everything changed before this time (unix seconds) has been reconciled or was announced by a notification. */
  readonly watermark: number
  /** The start of a gap found since the last sweep began: the next sweep must reach back to it. */
  readonly pendingSince: number | null
  /** The sweep under way, to resume after a restart. */
  readonly sweep: SweepProgress | null
}

/** What the mirror holds of a row: its version, and whether its item is the one compared. */
export interface HeldVersion {
  readonly updatedAt: number | null
  readonly sameData: boolean
}

/** One item's changes applied, or why the store refused them (the other items of the page are applied all the same). */
export type ItemOutcome = Either.Either<ReadonlyArray<MirrorOutcome>, string>

/**
 * What gap recovery keeps in the store, both stores alike: each instance's last sign of life (to find the times when
 * none answered), each workspace's watermark and unfinished sweep, the lease that lets one instance sweep a workspace,
 * and the mirror's writes of a page of REST objects.
 */
export class ReconcileStore extends Context.Tag("ReconcileStore")<ReconcileStore, {
  /**
   * Records that `instance` is alive at `now` and, in the same transaction, when the latest sign of life of any
   * instance before it is more than `gap` seconds old, marks that time as the start of a gap for every workspace.
   * Returns that latest time (none on a store that has never seen an instance).
   */
  readonly beat: (
    instance: string,
    now: number,
    gap: number,
    workspaces: ReadonlyArray<string>
  ) => Effect.Effect<Option.Option<number>, StoreUnavailable>
  /** The workspace's state, made with `watermark` = `now` the first time it is asked for. */
  readonly state: (workspace: string, now: number) => Effect.Effect<ReconcileState, StoreUnavailable>
  /** Starts a sweep: the window and its first phase recorded, the pending gap taken (cleared). */
  readonly begin: (workspace: string, window: SweepWindow) => Effect.Effect<void, StoreUnavailable>
  /** Records how far the sweep under way has come. */
  readonly advance: (
    workspace: string,
    phase: SweepPhase,
    cursor: string | null
  ) => Effect.Effect<void, StoreUnavailable>
  /** Ends the sweep under way: the watermark moves up to `until` (never down). */
  readonly finish: (workspace: string, until: number) => Effect.Effect<void, StoreUnavailable>
  /**
   * Applies each item's changes with the mirror's version rule, in one transaction, each item under a savepoint of
   * its own: values the store refuses undo only that item.
   */
  readonly applyItems: (
    items: ReadonlyArray<ReadonlyArray<MirrorChange>>
  ) => Effect.Effect<ReadonlyArray<ItemOutcome>, StoreUnavailable>
  /**
   * For each of `rows` that the mirror holds: the row's `updated_at`, and whether its `data` equals the given one
   * (as the store compares it: text in SQLite, jsonb in PostgreSQL).
   */
  readonly versions: (
    table: "intercom_contacts" | "intercom_conversations",
    rows: ReadonlyArray<{ readonly id: string; readonly data: string }>
  ) => Effect.Effect<ReadonlyMap<string, HeldVersion>, StoreUnavailable>
  /** The ids of the contacts of `workspaceId` (their item's `workspace_id`) that the mirror does not hold deleted. */
  readonly liveContactIds: (workspaceId: string) => Effect.Effect<ReadonlyArray<string>, StoreUnavailable>
  /**
   * Runs `work` (which never ends) while this instance holds the workspace's reconcile lease; on several instances
   * one at a time. When the lease is lost, `work` is interrupted and waits for it again.
   */
  readonly exclusive: <E, R>(workspace: string, work: Effect.Effect<never, E, R>) => Effect.Effect<never, E, R>
}>() {}
