import { Context, Effect, Layer, Runtime } from "effect"
import { Counter, Gauge, Histogram, Registry } from "prom-client"
import { SinkHealths } from "../pipeline/Delivery/SinkHealth.js"
import { intercomTopics } from "../pipeline/Topics.js"
import { Outbox } from "../store/Outbox.js"

const PREFIX = "intercom_webhook_"

/** Distinct `intercom_topic` label values kept; later new topics are counted as `other`. */
const MAX_TOPIC_LABELS = 100
const TOPIC_LABEL = /^[a-z][a-z_]*(\.[a-z][a-z_]*){0,5}$/

/**
 * A label value for an Intercom topic from a bounded set: the topics this service maps, then the first
 * `MAX_TOPIC_LABELS` other well-formed topic strings seen, then `other`. A label set that grows with its input would let
 * anyone holding the secret grow `/metrics` and the memory without bound.
 */
const topicLabels = (known: Iterable<string>) => {
  const labels = new Set(known)
  const limit = labels.size + MAX_TOPIC_LABELS
  return (topic: string): string => {
    if (labels.has(topic)) return topic
    if (labels.size >= limit || topic.length > 64 || !TOPIC_LABEL.test(topic)) return "other"
    labels.add(topic)
    return topic
  }
}

/** Prometheus metrics of one running service, in their own registry. */
export class Metrics extends Context.Tag("Metrics")<Metrics, {
  readonly registry: Registry
  /** The `intercom_topic` label of a topic string: bounded, whatever arrives. */
  readonly topicLabel: (intercomTopic: string) => string
  readonly requests: Counter<"status">
  readonly notifications: Counter<"topic" | "intercom_topic" | "outcome">
  readonly signatureFailures: Counter<"reason">
  readonly signatureVerified: Counter<"secret_index">
  readonly decodeFailures: Counter<"topic">
  readonly deliveries: Counter<"sink">
  readonly deliveryFailures: Counter<"sink" | "kind">
  readonly deliveryDefects: Counter<"sink">
  readonly workerRestarts: Counter<"sink">
  readonly deliverySeconds: Histogram<"sink">
  readonly deadLetters: Counter<"sink" | "reason">
  readonly dedupeHits: Counter
  readonly schemaDrift: Counter<"topic">
  readonly schemaDriftSkipped: Counter<"reason">
  readonly overCapacity: Counter<"limit">
  readonly unexpectedErrors: Counter
  readonly logEntries: Counter<"outcome">
  readonly logWriteFailures: Counter
}>() {
  static readonly layer = Layer.effect(
    Metrics,
    Effect.gen(function*() {
      const outbox = yield* Outbox
      const healths = yield* SinkHealths
      const runtime = yield* Effect.runtime<never>()
      const registry = new Registry()
      const registers = [registry]
      // The outbox gauges are collected in the same scrape: they share one query while it is in flight.
      let querying: ReturnType<typeof query> | undefined
      const query = () => Runtime.runPromise(runtime)(Effect.orElseSucceed(outbox.depthBySink, () => undefined))
      const depth = () => (querying ??= query().finally(() => querying = undefined))
      const ageOf = (oldest: number) => Math.max(0, (Date.now() - oldest) / 1000)

      new Gauge({
        name: `${PREFIX}outbox_depth`,
        help: "Deliveries waiting in the outbox",
        registers,
        async collect() {
          const current = await depth()
          if (current !== undefined) this.set(current.reduce((sum, { count }) => sum + Number(count), 0))
        }
      })
      new Gauge({
        name: `${PREFIX}outbox_oldest_age_seconds`,
        help: "Age of the oldest undelivered notification in the outbox (0 when empty)",
        registers,
        async collect() {
          const current = await depth()
          if (current !== undefined) {
            this.set(current.length === 0 ? 0 : ageOf(Math.min(...current.map(({ oldest }) => Number(oldest)))))
          }
        }
      })
      /** A gauge per sink of what waits for it, 0 for a sink with nothing waiting. */
      const perSink = (name: string, help: string, value: (waiting: { count: number; oldest: number }) => number) =>
        new Gauge({
          name: `${PREFIX}${name}`,
          help,
          labelNames: ["sink"],
          registers,
          async collect() {
            const current = await depth()
            if (current === undefined) return
            this.reset()
            for (const sink of healths.keys()) this.set({ sink }, 0)
            for (const waiting of current) this.set({ sink: waiting.sink }, value(waiting))
          }
        })
      perSink("sink_outbox_depth", "Deliveries waiting in the outbox, by sink", ({ count }) => Number(count))
      perSink(
        "sink_oldest_age_seconds",
        "Age of the oldest notification waiting for a sink (0 when none waits): alert when it keeps growing",
        ({ oldest }) => ageOf(Number(oldest))
      )
      new Gauge({
        name: `${PREFIX}sink_available`,
        help: "1 while a sink's target takes deliveries, 0 while it is unavailable and probed",
        labelNames: ["sink"],
        registers,
        collect() {
          for (const [sink, health] of healths) this.set({ sink }, health.failing ? 0 : 1)
        }
      })
      new Gauge({
        name: `${PREFIX}sink_unavailable_seconds`,
        help: "How long a sink's target has been unavailable (0 while it is available)",
        labelNames: ["sink"],
        registers,
        collect() {
          for (const [sink, health] of healths) {
            const state = health.state
            this.set({ sink }, state._tag === "failing" ? ageOf(state.since) : 0)
          }
        }
      })

      new Counter({
        name: `${PREFIX}mirror_writes_total`,
        help: "Changes the mirror sink made to its tables, by table and outcome (stale: the row already held a newer " +
          "state)",
        labelNames: ["table", "outcome"],
        registers,
        collect() {
          this.reset()
          for (const { n, outcome, table } of outbox.mirrorCounts.entries()) this.inc({ table, outcome }, n)
        }
      })

      return Metrics.of({
        registry,
        topicLabel: topicLabels(Object.keys(intercomTopics)),
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
          help: "Failed deliveries by sink and kind (unavailable: the target is unwell; failed: this notification, " +
            "retried; rejected: a dead letter)",
          labelNames: ["sink", "kind"],
          registers
        }),
        deliveryDefects: new Counter({
          name: `${PREFIX}delivery_defects_total`,
          help: "Deliveries a sink failed unexpectedly (each one a dead letter, logged at ERROR); should stay 0",
          labelNames: ["sink"],
          registers
        }),
        workerRestarts: new Counter({
          name: `${PREFIX}delivery_worker_restarts_total`,
          help: "Delivery workers that stopped unexpectedly and were started again (logged at ERROR); should stay 0",
          labelNames: ["sink"],
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
        overCapacity: new Counter({
          name: `${PREFIX}over_capacity_total`,
          help: "Requests answered 503 unread because a limit was reached (body_budget: BODY_BUDGET_BYTES, " +
            "connections: MAX_CONNECTIONS)",
          labelNames: ["limit"],
          registers
        }),
        unexpectedErrors: new Counter({
          name: `${PREFIX}unexpected_errors_total`,
          help: "Requests answered 500 by a defect of the service (each one is logged); should stay 0",
          registers
        }),
        logEntries: new Counter({
          name: `${PREFIX}log_entries_total`,
          help: "Notifications for the notification log by outcome (written; dropped: its store was too slow or " +
            "failing and 20,000 waited already)",
          labelNames: ["outcome"],
          registers
        }),
        logWriteFailures: new Counter({
          name: `${PREFIX}log_write_failures_total`,
          help: "Batches the notification log could not write (logged at WARN, tried again)",
          registers
        }),
        schemaDrift: new Counter({
          name: `${PREFIX}schema_drift_total`,
          help: "Notifications whose item does not match its generated schema exactly (only counted with CAPTURE_DIR)",
          labelNames: ["topic"],
          registers
        }),
        schemaDriftSkipped: new Counter({
          name: `${PREFIX}schema_drift_skipped_total`,
          help: "Accepted notifications drift capture did not check or did not save, by reason (too_large, " +
            "too_complex, too_slow, busy: not checked; sampled, full: drifting but not saved)",
          labelNames: ["reason"],
          registers
        })
      })
    })
  )
}
