import { Data } from "effect"
import type { MirrorChange } from "../mirror/Rows.js"

/** The sink the mirror's changes belong to: a notification whose changes the store refuses is queued for it. */
export const MIRROR_SINK = "mirror"

/**
 * The store refuses the values of a notification's changes (a constraint, a limit, a value its types cannot hold):
 * sending them again cannot succeed, so they become the mirror's dead letter rather than failing the notification.
 */
export class MirrorRefused extends Data.TaggedError("MirrorRefused")<{ readonly message: string }> {}

export type MirrorTable = "intercom_contacts" | "intercom_conversations" | "intercom_contact_tags"

export const mirrorTables: ReadonlyArray<MirrorTable> = [
  "intercom_contacts",
  "intercom_conversations",
  "intercom_contact_tags"
]

export const mirrorTable = (change: MirrorChange): MirrorTable =>
  change._tag === "UpsertConversation"
    ? "intercom_conversations"
    : change._tag === "LinkTag"
    ? "intercom_contact_tags"
    : "intercom_contacts"

/** What became of a change: `applied`, or `stale` when the row already held a newer state. */
export interface MirrorOutcome {
  readonly table: MirrorTable
  readonly applied: boolean
}

/** Writes to the mirror tables since start, by table and outcome, counted once committed (for `/metrics`). */
export class MirrorCounts {
  private readonly counts = new Map<string, number>()

  record(outcomes: ReadonlyArray<MirrorOutcome>): void {
    for (const { applied, table } of outcomes) {
      const key = `${table}\t${applied ? "applied" : "stale"}`
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
    }
  }

  entries(): ReadonlyArray<{ readonly table: MirrorTable; readonly outcome: "applied" | "stale"; readonly n: number }> {
    return [...this.counts].map(([key, n]) => {
      const [table, outcome] = key.split("\t") as [MirrorTable, "applied" | "stale"]
      return { table, outcome, n }
    })
  }
}
