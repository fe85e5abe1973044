import { Duration, Effect, Layer, Option } from "effect"
import { consoleSettings } from "../config/ConsoleConfig.js"
import { logSettings } from "../config/LogConfig.js"
import { makeAccess } from "./Access.js"
import { makeLoginLimiter } from "./Auth.js"
import { makeRoutes } from "./Routes.js"
import { listen } from "./Server.js"
import { makeSessions } from "./Sessions.js"

/**
 * The operator console: its own listener at `CONSOLE_HOST:CONSOLE_PORT`, on only when `CONSOLE_TOKEN` is set. Needs
 * the store (`Outbox`, `NotificationLogStore`, `ReconcileStore`), the sinks' health (`SinkHealths`) and the `Decoder`
 * (see `Routes.Requirements`); closes with its scope.
 */
export const layer = Layer.scopedDiscard(
  Effect.gen(function*() {
    const settings = yield* consoleSettings
    if (Option.isNone(settings.token)) return yield* Effect.logInfo("console off: CONSOLE_TOKEN is not set")
    const sessions = makeSessions(Duration.toMillis(settings.sessionTtl))
    const access = makeAccess(
      { token: settings.token.value, readonlyToken: settings.readonlyToken },
      sessions,
      makeLoginLimiter()
    )
    const routes = makeRoutes(access, Option.isSome((yield* logSettings).retention))
    const address = yield* listen(settings.host, settings.port, routes)
    const url = `http://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`
    yield* Effect.logInfo(`console listening on ${url}`).pipe(Effect.annotateLogs("url", url))
  })
)
