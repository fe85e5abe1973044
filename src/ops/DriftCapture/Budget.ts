import { Data, Effect } from "effect"

/** Why an accepted notification was not checked (the first four) or its drift not saved (the last two). */
export type SkipReason = "too_large" | "too_complex" | "too_slow" | "busy" | "sampled" | "full"

export class Skipped extends Data.TaggedError("Skipped")<{ readonly reason: SkipReason }> {}

/** Resumes on a later turn of the event loop, after the I/O waiting now (requests, `/healthz`). */
const nextTurn = Effect.async<void>((resume) => {
  const turn = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(turn))
})

/**
 * The steps of one check: each runs on its own turn of the event loop, so that requests are served between them, and
 * once the steps so far took `limitMs` in all the check stops (`too_slow`).
 */
export const budget = (limitMs: number) => {
  let spent = 0
  return <A>(work: () => A): Effect.Effect<A, Skipped> =>
    Effect.zipRight(
      nextTurn,
      Effect.suspend(() => {
        if (spent > limitMs) return Effect.fail(new Skipped({ reason: "too_slow" }))
        const start = performance.now()
        const result = work()
        spent += performance.now() - start
        return Effect.succeed(result)
      })
    )
}
