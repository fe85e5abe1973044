import { NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigError, Console, Effect, Layer, Logger } from "effect"
import * as App from "./App.js"
import * as ConfigFile from "./ConfigFile.js"
import { ReceiverConfig } from "./ReceiverConfig.js"

/** The messages of a config error, one per problem. */
const messages = (error: ConfigError.ConfigError): ReadonlyArray<string> => {
  switch (error._op) {
    case "And":
    case "Or":
      return [...messages(error.left), ...messages(error.right)]
    default:
      return [error.message]
  }
}

/** Logs go to stderr: stdout belongs to the console sink. */
const LoggerLive = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

App.layer.pipe(
  Layer.provide(ReceiverConfig.layer),
  Layer.provide(ConfigFile.layer),
  Layer.provide(LoggerLive),
  Layer.launch,
  Effect.tapErrorCause((cause) => {
    const failure = Cause.failureOption(cause)
    return failure._tag === "Some" && ConfigError.isConfigError(failure.value)
      ? Console.error(messages(failure.value).map((message) => `Configuration error: ${message}`).join("\n"))
      : Console.error(Cause.pretty(cause))
  }),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
