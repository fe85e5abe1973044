import { NodeRuntime } from "@effect/platform-node"
import { Cause, Config, ConfigError, Console, Duration, Effect, Layer, Logger } from "effect"
import * as App from "./App.js"
import * as ConfigFile from "./config/ConfigFile.js"
import { configMessages } from "./config/ConfigMessages.js"
import { ReceiverConfig } from "./config/ReceiverConfig.js"
import { redactText } from "./config/Redact.js"
import * as LogLines from "./ops/LogLines.js"

/**
 * `LOG_FORMAT`: `json` (one object per line, the default when stderr is not a terminal) or `pretty`.
 * `LOG_LEVEL`: debug, info (default), warning, error or none. Logs go to stderr: stdout belongs to the console sink.
 */
const LoggerLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const format = yield* Config.literal("json", "pretty")("LOG_FORMAT").pipe(
      Config.withDefault(process.stderr.isTTY ? "pretty" : "json")
    )
    const level = yield* Config.literal("debug", "info", "warning", "error", "none")("LOG_LEVEL").pipe(
      Config.withDefault("info")
    )
    const logger = format === "json"
      ? LogLines.json
      : LogLines.expandAnnotated(Logger.prettyLogger({ stderr: true, colors: "auto" }))
    return Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLines.levels[level]))
  })
)

/** Whatever happens, the process is gone `SHUTDOWN_TIMEOUT` after SIGTERM/SIGINT (exit 1 when it had to be forced). */
const HardStop = Layer.effectDiscard(
  Effect.map(ReceiverConfig, ({ shutdownTimeout }) => {
    const arm = () =>
      setTimeout(() => {
        process.stderr.write(`shutdown took longer than SHUTDOWN_TIMEOUT (${Duration.format(shutdownTimeout)})\n`)
        process.exit(1)
      }, Duration.toMillis(shutdownTimeout) + 1000).unref()
    process.once("SIGTERM", arm)
    process.once("SIGINT", arm)
  })
)

/**
 * Runs the service until SIGINT/SIGTERM, configured from the environment and `CONFIG_FILE`.
 * `extra` joins the app, e.g. `Handlers.layer({...})`; a configuration error exits 1 saying what to fix.
 */
export const run = <E>(extra: Layer.Layer<never, E> = Layer.empty): void =>
  Layer.merge(App.layer, HardStop).pipe(
    Layer.provide(extra),
    Layer.provide(ReceiverConfig.layer),
    Layer.provide(LoggerLive),
    Layer.provide(ConfigFile.layer),
    Layer.launch,
    Effect.tapErrorCause((cause) => {
      const failure = Cause.failureOption(cause)
      if (failure._tag === "None") return Console.error(redactText(Cause.pretty(cause)))
      const error = failure.value
      if (ConfigError.isConfigError(error)) {
        return Console.error(configMessages(error).map((message) => `Configuration error: ${message}`).join("\n"))
      }
      // The service's own failures at start (a store in use or unreachable, a broker refusing) say what to fix:
      // their stack would only bury it.
      return Console.error(
        redactText(
          error instanceof Error && error.message.length > 0 ? `${error.name}: ${error.message}` : Cause.pretty(cause)
        )
      )
    }),
    NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
  )
