import { Cause, Duration, Effect, Layer } from "effect"
import { ReceiverConfig } from "../config/ReceiverConfig.js"
import { Metrics } from "../ops/Metrics.js"
import { type Sink, Sinks } from "../sinks/Sink.js"
import type { DeliveryShare } from "../store/DeliveryShare.js"
import { Outbox } from "../store/Outbox.js"
import { DeadLetters } from "./DeadLetters.js"
import type { AttemptContext } from "./Delivery/Attempt.js"
import * as Dispatcher from "./Delivery/Dispatcher.js"
import { SinkHealth, SinkHealths } from "./Delivery/SinkHealth.js"
import { Decoder } from "./Notification.js"

/** How long a worker that stopped waits before it starts again. */
const RESTART_AFTER = Duration.seconds(1)

/**
 * A sink's worker, delivering this instance's share of the sink's deliveries (see `Outbox.deliveries`). A worker that stops for any reason but shutdown says so at ERROR, is counted in
 * `delivery_worker_restarts_total`, and starts again: its deliveries in flight are made again (at least once).
 */
const worker = (sink: Sink, health: SinkHealth, context: AttemptContext) =>
  context.outbox.deliveries(sink.name, context.config.deliveryOrder, (share) => running(sink, health, share, context))

const running = (sink: Sink, health: SinkHealth, share: DeliveryShare, context: AttemptContext) =>
  Dispatcher.run(sink, health, share, context).pipe(
    Effect.scoped,
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError(
        "delivery worker stopped; starting it again"
      ).pipe(
        Effect.annotateLogs({ sink: sink.name, error: Cause.pretty(cause) }),
        Effect.zipRight(Effect.sync(() => context.metrics.workerRestarts.inc({ sink: sink.name }))),
        Effect.zipRight(Effect.sleep(RESTART_AFTER))
      )
    ),
    Effect.forever
  )

/** Starts a worker for every sink that takes deliveries from the outbox; they stop when the app's scope closes. */
export const layer = Layer.scopedDiscard(
  Effect.gen(function*() {
    const sinks = yield* Sinks
    const healths = yield* SinkHealths
    const config = yield* ReceiverConfig
    const context: AttemptContext = {
      config,
      outbox: yield* Outbox,
      deadLetters: yield* DeadLetters,
      decoder: yield* Decoder,
      metrics: yield* Metrics
    }
    const policy = { interval: config.probeInterval, retryAfterMax: config.retryAfterMax }
    for (const sink of sinks.values()) {
      if (sink.mode === "inline") continue
      const health = new SinkHealth(sink.name, policy)
      healths.set(sink.name, health)
      // Counted from 0, so that an alert on an increase sees the first one.
      context.metrics.deliveryDefects.inc({ sink: sink.name }, 0)
      context.metrics.workerRestarts.inc({ sink: sink.name }, 0)
      yield* Effect.forkScoped(worker(sink, health, context))
    }
  })
)
