/**
 * npm run replay -- [--sink S] [--topic T] [--since ISO] [--list [--limit N]]
 * Puts dead letters back into the outbox; a running service delivers them within seconds. With --list, shows the dead
 * letters still waiting instead, and changes nothing.
 */
import { Console, Effect, Option } from "effect"
import { existsSync } from "node:fs"
import { configMessages } from "../src/config/ConfigMessages.js"
import { sinkNames, storeSettings } from "../src/config/ReceiverConfig.js"
import { redactText } from "../src/config/Redact.js"
import { isoTime } from "../src/ops/IsoTime.js"
import { Outbox, type WaitingDeadLetter } from "../src/store/Outbox.js"
import * as Store from "../src/store/Store.js"
import { main, UsageError } from "./cli/Args.js"

const sinks: ReadonlyArray<string> = [...sinkNames, "handlers"]

/** Dead letters `--list` shows unless `--limit` says otherwise. */
const LIST_LIMIT = 1000

/** Characters of a dead letter's error `--list` shows. */
const ERROR_CHARACTERS = 100

const command = {
  name: "replay",
  usage: "usage: npm run replay -- [--sink S] [--topic T] [--since ISO] [--list [--limit N]]",
  help:
    `Puts dead letters from the store back into the outbox, once each: the PostgreSQL store of STORE_URL when it is set,
else the SQLite store of STORE_PATH (default $DATA_DIR/receiver.db), which must exist.
  --sink S     only dead letters of sink S (${sinks.join(", ")}); dead letters without a sink (no_route, and
               schema_mismatch from before mismatches were delivered) go to S too
  --topic T    only this canonical or Intercom topic
  --since ISO  only dead letters buried at or after this time: 2026-01-10, or 2026-01-10T00:00:00Z (with an offset)
  --list       replay nothing: print the dead letters still waiting (never replayed) that the options above pick, one
               a line (id, dead_at, sink, reason, topic, notification id, the error's first ${ERROR_CHARACTERS} characters),
               oldest first; without --sink, those without a sink too
  --limit N    with --list: at most N lines (default ${LIST_LIMIT})
Without --sink, dead letters without a sink are left alone: say where they should go.
Exit code: 0 done, 1 failed (the store could not be read), 2 usage (a wrong option or setting, no store).`,
  options: { sink: "string", topic: "string", since: "string", list: "boolean", limit: "string" },
  positionals: 0
} as const

/** One line per dead letter, columns aligned, control characters (a notification id may hold any) shown as U+FFFD. */
const table = (waiting: ReadonlyArray<WaitingDeadLetter>): string => {
  const printable = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "\ufffd")
  const rows = [
    ["id", "dead_at", "sink", "reason", "topic", "notification_id", "error"],
    ...waiting.map((dead) => [
      String(dead.id),
      dead.deadAt.toISOString(),
      dead.sink ?? "-",
      dead.reason,
      printable(dead.topic ?? dead.intercomTopic),
      printable(dead.notificationId ?? "-"),
      printable(redactText(dead.error)).slice(0, ERROR_CHARACTERS)
    ])
  ]
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) =>
    row.map((cell, column) => column === row.length - 1 ? cell : cell.padEnd(widths[column]!)).join("  ")
  )
    .join("\n")
}

main(command, ({ options }) =>
  Effect.gen(function*() {
    if (options.limit !== undefined && options.list !== true) {
      return yield* new UsageError({ message: "--limit goes with --list" })
    }
    const limit = options.limit === undefined ? LIST_LIMIT : Number(options.limit)
    if (!Number.isSafeInteger(limit) || limit < 1 || !/^\d+$/.test(options.limit ?? "1")) {
      return yield* new UsageError({ message: `--limit must be a whole number from 1, got "${options.limit}"` })
    }
    if (options.sink !== undefined && !sinks.includes(options.sink)) {
      return yield* new UsageError({ message: `--sink must be one of ${sinks.join(", ")}, got "${options.sink}"` })
    }
    const since = Option.flatMap(Option.fromNullable(options.since), isoTime)
    if (options.since !== undefined && Option.isNone(since)) {
      return yield* new UsageError({
        message: `--since must be an ISO 8601 date or time with an offset, such as 2026-01-10T00:00:00Z, ` +
          `got "${options.since}"`
      })
    }
    const config = yield* Effect.mapError(storeSettings, (error) =>
      new UsageError({
        message: configMessages(error).map((message) => `Configuration error: ${message}`).join("; ")
      }))
    // Opening a missing SQLite file would create an empty store, and a wrong DATA_DIR would look like "nothing to do".
    if (Option.isNone(config.storeUrl) && !existsSync(config.storePath)) {
      return yield* new UsageError({
        message: `no store at ${config.storePath}: set DATA_DIR or STORE_PATH to the service's (or STORE_URL)`
      })
    }
    const filter = { sink: Option.fromNullable(options.sink), topic: Option.fromNullable(options.topic), since }
    if (options.list === true) {
      const waiting = yield* Effect.flatMap(Outbox, (outbox) => outbox.deadLetters(filter, limit + 1)).pipe(
        Effect.provide(Store.layerWith(config, "tool"))
      )
      const shown = waiting.slice(0, limit)
      if (shown.length > 0) yield* Console.log(table(shown))
      yield* Console.log(
        waiting.length > limit
          ? `the oldest ${limit} dead letter(s) waiting in ${Store.describe(config)}, more after them (--limit N)`
          : `${shown.length} dead letter(s) waiting in ${Store.describe(config)}; nothing replayed`
      )
      return
    }
    const replayed = yield* Effect.flatMap(Outbox, (outbox) => outbox.replay(filter)).pipe(
      Effect.provide(Store.layerWith(config, "tool"))
    )
    yield* Console.log(`replayed ${replayed} dead letter(s) from ${Store.describe(config)}`)
  }))
