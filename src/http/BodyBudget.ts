/**
 * The bytes of request bodies held at once, across every request: a body is admitted only while the total stays
 * within `limit`, so memory under any load is bounded by configuration, whoever sends. A declared `Content-Length`
 * is reserved whole before the first byte is read; a streamed body reserves as its chunks arrive.
 */
export interface BodyBudget {
  readonly limit: number
  /** Bytes held now. */
  readonly held: () => number
  /** Takes `bytes` from the budget; false, taking nothing, when they do not fit. */
  readonly reserve: (bytes: number) => boolean
  readonly release: (bytes: number) => void
}

export const makeBodyBudget = (limit: number): BodyBudget => {
  let held = 0
  return {
    limit,
    held: () => held,
    reserve: (bytes) => {
      if (held + bytes > limit) return false
      held += bytes
      return true
    },
    release: (bytes) => {
      held -= bytes
    }
  }
}
