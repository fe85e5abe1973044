import { ConfigError, Context, Effect, Layer, Option } from "effect"
import { ReceiverConfig } from "../config/ReceiverConfig.js"
import { type Sink, Sinks } from "../sinks/Sink.js"
import type { Notification } from "./Notification.js"
import { sinksFor } from "./Routes.js"

/** Chooses the sinks of a notification from `ROUTES`, matched on its canonical topic, or on the Intercom topic. */
export class Router extends Context.Tag("Router")<Router, {
  /** The sinks for this notification; empty when no rule of `ROUTES` matches it. */
  readonly route: (notification: Notification) => ReadonlyArray<Sink>
}>() {
  static readonly layer = Layer.effect(
    Router,
    Effect.gen(function*() {
      const { routes } = yield* ReceiverConfig
      const sinks = yield* Sinks
      const all = [...sinks.values()]
      if (Option.isNone(routes)) return Router.of({ route: () => all })
      for (const route of routes.value) {
        const missing = route.sinks.filter((name) => !sinks.has(name))
        if (missing.length > 0) {
          return yield* Effect.fail(ConfigError.InvalidData(
            ["ROUTES"],
            `ROUTES sends ${route.pattern} to ${missing.join(", ")}, which this program does not run` +
              (missing.includes("handlers") ? " (typed handlers need Handlers.layer, see README)" : "")
          ))
        }
      }
      const cache = new Map<string, ReadonlyArray<Sink>>()
      return Router.of({
        route: (notification) => {
          const key = notification.topic ?? notification.intercomTopic
          let chosen = cache.get(key)
          if (chosen === undefined) {
            chosen = (sinksFor(routes.value, key) ?? []).flatMap((name) => sinks.get(name) ?? [])
            if (cache.size < 1024) cache.set(key, chosen)
          }
          return chosen
        }
      })
    })
  )
}
