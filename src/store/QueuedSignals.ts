import { Effect, Queue } from "effect"

/** A per-sink "something was queued" signal: wakes that sink's worker; many wakes before it looks count as one. */
export const queuedSignals = () => {
  const signals = new Map<string, Queue.Queue<void>>()
  const signal = (sink: string) => {
    let queue = signals.get(sink)
    if (queue === undefined) {
      queue = Effect.runSync(Queue.sliding<void>(1))
      signals.set(sink, queue)
    }
    return queue
  }
  return {
    wake: (sinks: Iterable<string>) => {
      for (const sink of new Set(sinks)) signal(sink).unsafeOffer(undefined)
    },
    waitQueued: (sink: string) => Queue.take(signal(sink))
  }
}
