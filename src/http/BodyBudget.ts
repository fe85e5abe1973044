/**
 * The bytes of request bodies held at once, across every request: a body is admitted only while the total stays
 * within `limit`, so memory under any load is bounded by configuration, whoever sends. A declared `Content-Length`
 * is reserved whole before the first byte is read; a streamed body reserves as its chunks arrive.
 */
export interface BodyBudget {
  readonly limit: number
  /** Bytes held now. */
  readonly held: () => number
  /** A request's share of the budget, empty until it reserves bytes. */
  readonly share: () => Share
}

/** The bytes one request holds. */
export interface Share {
  /** Takes `bytes` more from the budget; false, taking nothing, when they do not fit. */
  readonly reserve: (bytes: number) => boolean
  /** Gives back every byte this share took; once the request is answered (again: nothing more). */
  readonly release: () => void
  readonly limit: number
}

export const makeBodyBudget = (limit: number): BodyBudget => {
  let held = 0
  return {
    limit,
    held: () => held,
    share: () => {
      let taken = 0
      return {
        limit,
        reserve: (bytes) => {
          if (held + bytes > limit) return false
          held += bytes
          taken += bytes
          return true
        },
        release: () => {
          held -= taken
          taken = 0
        }
      }
    }
  }
}
