import type { MirrorChange } from "../../mirror/Rows.js"
import { type MirrorOutcome, mirrorTable } from "../Mirror.js"
import { mirrorStatements, mirrorValues } from "../MirrorStatements.js"

const statements = mirrorStatements((n) => `$${n}`)

/** Applies one change with `query`, inside the caller's transaction. */
export const applyChange = async (
  query: (text: string, values?: ReadonlyArray<unknown>) => Promise<ReadonlyArray<Record<string, unknown>>>,
  change: MirrorChange
): Promise<MirrorOutcome> => ({
  table: mirrorTable(change),
  applied: (await query(statements[change._tag], mirrorValues(change))).length > 0
})
