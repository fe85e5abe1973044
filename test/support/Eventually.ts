import { Duration, Effect } from "effect"

/** Runs `effect` every 20 ms until `done` holds for its result; dies naming `what` after `within`. */
export const eventually = <A, E, R>(
  what: string,
  effect: Effect.Effect<A, E, R>,
  done: (value: A) => boolean,
  within: Duration.DurationInput = Duration.seconds(10)
): Effect.Effect<A, E, R> => {
  const loop: Effect.Effect<A, E, R> = Effect.flatMap(
    effect,
    (value) => done(value) ? Effect.succeed(value) : Effect.zipRight(Effect.sleep(Duration.millis(20)), loop)
  )
  return loop.pipe(
    Effect.timeoutFail({ duration: within, onTimeout: () => `timed out waiting for ${what}` }),
    Effect.catchIf((error): error is string => typeof error === "string", (message) => Effect.dieMessage(message))
  )
}
