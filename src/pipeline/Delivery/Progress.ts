import { Duration, Effect, Fiber } from "effect"
import type { Outbox } from "../../store/Outbox.js"

/** Deliveries recorded in one write at most, and at which the writer stops waiting for more. */
const FULL_BATCH = 256
/**
 * How long the writer waits for more deliveries before it writes fewer: with many keys each run is one delivery, and
 * a transaction per delivery cost more than the delivery (135 µs a row alone, 17.5 µs a row by 256, on SQLite).
 */
const GATHER = Duration.millis(5)

/**
 * Deliveries made, recorded in the store in batches: whatever was delivered while the previous batch was being
 * written, or within `GATHER` of the first waiting one, goes in the next one. A key stays busy (none of its deliveries handed out again) until every delivery of its
 * run is recorded, then `release` frees it. A batch the store refuses is kept and tried again: until it is recorded,
 * a crash would deliver those notifications again, never lose them.
 */
export const make = (outbox: Outbox["Type"], sink: string, release: (keys: ReadonlyArray<string>) => void) =>
  Effect.gen(function*() {
    let seqs: Array<number> = []
    let keys: Array<string> = []
    const pending = yield* Effect.makeLatch(false)
    const full = yield* Effect.makeLatch(false)

    const write = (batch: ReadonlyArray<number>): Effect.Effect<void> =>
      outbox.delivered(sink, batch).pipe(
        Effect.catchAll((error) =>
          Effect.logError("cannot record deliveries; trying again").pipe(
            Effect.annotateLogs({ sink, deliveries: batch.length, error: error.message }),
            Effect.zipRight(Effect.sleep(Duration.seconds(1))),
            Effect.zipRight(Effect.suspend(() => write(batch)))
          )
        )
      )

    const writer = yield* Effect.gen(function*() {
      while (true) {
        yield* pending.await
        if (seqs.length < FULL_BATCH) yield* full.await.pipe(Effect.timeout(GATHER), Effect.ignore)
        yield* pending.close
        yield* full.close
        const batch = seqs
        const finished = keys
        seqs = []
        keys = []
        if (batch.length > 0) yield* write(batch)
        release(finished)
      }
    }).pipe(Effect.forkScoped)

    return {
      /** A delivery the sink has. */
      delivered: (seq: number) => {
        if (seqs.push(seq) >= FULL_BATCH) full.unsafeOpen()
      },
      /** The end of a key's run: the key is released once the run's deliveries are recorded. */
      finished: (key: string) => {
        keys.push(key)
        pending.unsafeOpen()
      },
      /** Never completes; fails as the writer does, should it ever stop. */
      writer: Fiber.join(writer)
    }
  })
