/**
 * npm run replay -- [--sink S] [--topic T] [--since ISO]
 * Puts dead letters back into the outbox; a running service delivers them within seconds.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Data, Effect, Option } from "effect"
import { storeSettings } from "../src/config/ReceiverConfig.js"
import { Outbox } from "../src/store/Outbox.js"
import * as Store from "../src/store/Store.js"

const usage = `usage: npm run replay -- [--sink S] [--topic T] [--since ISO]

Puts dead letters from the store back into the outbox, once each: the PostgreSQL store of STORE_URL when it is set,
else the SQLite store of STORE_PATH (default $DATA_DIR/receiver.db).
  --sink S     only dead letters of sink S; dead letters without a sink (no_route, and schema_mismatch from before mismatches were delivered) go to S too
  --topic T    only this canonical or Intercom topic
  --since ISO  only dead letters buried at or after this time, e.g. 2026-01-10T00:00:00Z
Without --sink, dead letters without a sink are left alone: say where they should go.`

class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

const args = process.argv.slice(2)
const option = (name: string) => {
  const at = args.indexOf(name)
  return at === -1 ? Option.none() : Option.fromNullable(args[at + 1])
}

const program = Effect.gen(function*() {
  if (args.includes("--help") || args.includes("-h")) return yield* Console.log(usage)
  const since = option("--since")
  const sinceDate = Option.map(since, (text) => new Date(text))
  if (Option.isSome(sinceDate) && Number.isNaN(sinceDate.value.getTime())) {
    return yield* new UsageError({ message: `--since must be an ISO-8601 time, got "${Option.getOrThrow(since)}"` })
  }
  const config = yield* storeSettings
  const replayed = yield* Effect.flatMap(
    Outbox,
    (outbox) => outbox.replay({ sink: option("--sink"), topic: option("--topic"), since: sinceDate })
  ).pipe(Effect.provide(Store.layerWith(config, "tool")))
  yield* Console.log(`replayed ${replayed} dead letter(s) from ${Store.describe(config)}`)
})

program.pipe(
  Effect.catchAll((error) =>
    Effect.zipRight(
      Console.error(error._tag === "UsageError" ? `${error.message}\n\n${usage}` : `replay: ${String(error)}`),
      Effect.sync(() => process.exitCode = error._tag === "UsageError" ? 2 : 1)
    )
  ),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
