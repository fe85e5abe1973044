import { Context, Effect, Layer, Option, Runtime } from "effect"
import { Counter, Gauge, Histogram, Registry } from "prom-client"
import { Outbox } from "../store/Outbox.js"

const PREFIX = "intercom_webhook_"

/** Prometheus metrics of one running service, in their own registry. */
export class Metrics extends Context.Tag("Metrics")<Metrics, {
  readonly registry: Registry
  readonly requests: Counter<"status">
  readonly notifications: Counter<"topic" | "intercom_topic" | "outcome">
  readonly signatureFailures: Counter<"reason">
  readonly signatureVerified: Counter<"secret_index">
  readonly decodeFailures: Counter<"topic">
  readonly deliveries: Counter<"sink">
  readonly deliveryFailures: Counter<"sink" | "retryable">
  readonly deliverySeconds: Histogram<"sink">
  readonly deadLetters: Counter<"sink" | "reason">
  readonly dedupeHits: Counter
  readonly schemaDrift: Counter<"topic">
}>() {
  static readonly layer = Layer.effect(
    Metrics,
    Effect.gen(function*() {
      const outbox = yield* Outbox
      const runtime = yield* Effect.runtime<never>()
      const registry = new Registry()
      const registers = [registry]
      // Both outbox gauges are collected in the same scrape: they share one query while it is in flight.
      let querying: ReturnType<typeof query> | undefined
      const query = () => Runtime.runPromise(runtime)(Effect.orElseSucceed(outbox.depth, () => undefined))
      const depth = () => (querying ??= query().finally(() => querying = undefined))

      new Gauge({
        name: `${PREFIX}outbox_depth`,
        help: "Deliveries waiting in the outbox",
        registers,
        async collect() {
          const current = await depth()
          if (current !== undefined) this.set(current.count)
        }
      })
      new Gauge({
        name: `${PREFIX}outbox_oldest_age_seconds`,
        help: "Age of the oldest undelivered notification in the outbox (0 when empty)",
        registers,
        async collect() {
          const current = await depth()
          if (current !== undefined) {
            this.set(
              Option.match(current.oldest, { onNone: () => 0, onSome: (at) => (Date.now() - at.getTime()) / 1000 })
            )
          }
        }
      })

      return Metrics.of({
        registry,
        requests: new Counter({
          name: `${PREFIX}requests_total`,
          help: "HTTP requests by status",
          labelNames: ["status"],
          registers
        }),
        notifications: new Counter({
          name: `${PREFIX}notifications_total`,
          help: "Verified notifications by canonical topic (none: no schema), Intercom topic and outcome",
          labelNames: ["topic", "intercom_topic", "outcome"],
          registers
        }),
        signatureFailures: new Counter({
          name: `${PREFIX}signature_failures_total`,
          help: "Rejected signatures by reason (missing, malformed, mismatch)",
          labelNames: ["reason"],
          registers
        }),
        signatureVerified: new Counter({
          name: `${PREFIX}signature_verified_total`,
          help: "Verified signatures by the index of the secret that matched; retire a secret whose count stays 0",
          labelNames: ["secret_index"],
          registers
        }),
        decodeFailures: new Counter({
          name: `${PREFIX}decode_failures_total`,
          help:
            "Notifications of a known topic that do not match its generated schema (delivered to byte sinks all the same)",
          labelNames: ["topic"],
          registers
        }),
        deliveries: new Counter({
          name: `${PREFIX}sink_deliveries_total`,
          help: "Deliveries by sink",
          labelNames: ["sink"],
          registers
        }),
        deliveryFailures: new Counter({
          name: `${PREFIX}sink_failures_total`,
          help: "Failed deliveries by sink and whether they will be retried",
          labelNames: ["sink", "retryable"],
          registers
        }),
        deliverySeconds: new Histogram({
          name: `${PREFIX}sink_delivery_seconds`,
          help: "Time a sink took to take a notification, failures included",
          labelNames: ["sink"],
          buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers
        }),
        deadLetters: new Counter({
          name: `${PREFIX}dead_letters_total`,
          help: "Dead letters by sink (none for no_route) and reason",
          labelNames: ["sink", "reason"],
          registers
        }),
        dedupeHits: new Counter({
          name: `${PREFIX}dedupe_hits_total`,
          help: "Notifications answered 200 without delivery because their id was accepted before",
          registers
        }),
        schemaDrift: new Counter({
          name: `${PREFIX}schema_drift_total`,
          help: "Notifications whose item does not match its generated schema exactly (only counted with CAPTURE_DIR)",
          labelNames: ["topic"],
          registers
        })
      })
    })
  )
}
