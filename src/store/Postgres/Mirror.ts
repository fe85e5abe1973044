import { Either } from "effect"
import type { MirrorChange } from "../../mirror/Rows.js"
import { type MirrorOutcome, mirrorTable } from "../Mirror.js"
import { mirrorStatements, mirrorValues } from "../MirrorStatements.js"

const statements = mirrorStatements((n) => `$${n}`)

type Query = (text: string, values?: ReadonlyArray<unknown>) => Promise<ReadonlyArray<Record<string, unknown>>>

/**
 * SQLSTATE classes that refuse the values, not the statement or the server's state: data exceptions (22: a NUL, a
 * number out of range), integrity constraints (23), limits (54: an index row too large, nesting too deep).
 */
const refusesValues = (error: unknown): error is Error & { readonly code: string } => {
  const code = (error as { readonly code?: unknown }).code
  return error instanceof Error && typeof code === "string" && /^(22|23|54)/.test(code)
}

/** Applies one change with `query`, inside the caller's transaction. */
export const applyChange = async (query: Query, change: MirrorChange): Promise<MirrorOutcome> => ({
  table: mirrorTable(change),
  applied: (await query(statements[change._tag], mirrorValues(change))).length > 0
})

/**
 * Applies a notification's changes all or none inside the caller's transaction, under a savepoint: values the server
 * refuses undo only them, and the transaction goes on (their outcomes, or why they were refused). Any other failure
 * is thrown.
 */
export const applyChanges = async (
  query: Query,
  changes: ReadonlyArray<MirrorChange>
): Promise<Either.Either<ReadonlyArray<MirrorOutcome>, string>> => {
  if (changes.length === 0) return Either.right([])
  await query("SAVEPOINT mirror_changes")
  try {
    const outcomes: Array<MirrorOutcome> = []
    for (const change of changes) outcomes.push(await applyChange(query, change))
    return Either.right(outcomes)
  } catch (error) {
    if (!refusesValues(error)) throw error
    await query("ROLLBACK TO SAVEPOINT mirror_changes")
    return Either.left(`the store refuses the values: ${error.message.slice(0, 200)} (SQLSTATE ${error.code})`)
  }
}
