/**
 * The service with the operator console, as `src/main.ts` runs it once `App.ts` holds `Console.layer`: for
 * test/console.test.ts, which runs it as its own process (`node --import tsx test/support/ConsoleMain.ts`).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Layer, Logger } from "effect"
import * as App from "../../src/App.js"
import * as ConfigFile from "../../src/config/ConfigFile.js"
import { ReceiverConfig } from "../../src/config/ReceiverConfig.js"
import * as Console from "../../src/console/Console.js"
import * as LogLines from "../../src/ops/LogLines.js"

Console.layer.pipe(
  Layer.provideMerge(App.layer),
  Layer.provide(ReceiverConfig.layer),
  Layer.provide(Logger.replace(Logger.defaultLogger, LogLines.json)),
  Layer.provide(ConfigFile.layer),
  Layer.launch,
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
