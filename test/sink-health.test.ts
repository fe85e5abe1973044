import { assert, describe, it } from "@effect/vitest"
import { Duration, Option } from "effect"
import { SinkHealth } from "../src/pipeline/Delivery/SinkHealth.js"
import { SinkError } from "../src/sinks/Sink.js"

const policy = { interval: Duration.seconds(5), retryAfterMax: Duration.seconds(60) }
const down = SinkError.unavailable("http", "answered 503")
const asking = (seconds: number) =>
  SinkError.unavailable("http", "answered 429", Option.some(Duration.seconds(seconds)))
const ms = (duration: Duration.Duration) => Duration.toMillis(duration)

describe("a sink's health", () => {
  it("failed probes move further apart, doubling from 250 ms up to PROBE_INTERVAL", () => {
    const health = new SinkHealth("http", policy)
    const waits: Array<number> = []
    let now = 1_000
    for (let probe = 0; probe < 8; probe++) {
      waits.push(ms(health.unavailable(down, "conversation:1", now, now)))
      now += waits.at(-1)!
    }
    assert.deepStrictEqual(waits, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000])
    assert.isTrue(health.failing)
  })

  it("deliveries in flight when the target went down do not move the next probe", () => {
    const health = new SinkHealth("http", policy)
    assert.strictEqual(ms(health.unavailable(down, "conversation:1", 100, 1_000)), 250)
    for (let sent = 0; sent < 30; sent++) health.unavailable(down, "conversation:1", 500 + sent, 1_050)
    const state = health.state
    assert.strictEqual(state._tag === "failing" ? state.probeAt : 0, 1_250)
    assert.strictEqual(ms(health.unavailable(down, "conversation:1", 1_250, 1_300)), 500, "the probe, sent after, does")
  })

  it("Retry-After is obeyed up to RETRY_AFTER_MAX, also by a delivery that was in flight", () => {
    const health = new SinkHealth("http", policy)
    assert.strictEqual(ms(health.unavailable(asking(30), "conversation:1", 0, 0)), 30_000)
    assert.strictEqual(ms(health.unavailable(asking(3600), "conversation:1", 1_000, 1_000)), 60_000, "capped")
    const other = new SinkHealth("http", policy)
    other.unavailable(down, "conversation:1", 0, 0)
    assert.strictEqual(ms(other.unavailable(asking(10), "conversation:1", -5, 100)), 10_000)
  })

  it("the first success ends it, says for how long it lasted, and starts the schedule over", () => {
    const health = new SinkHealth("http", policy)
    health.unavailable(down, "conversation:1", 0, 0)
    health.unavailable(down, "conversation:1", 250, 250)
    assert.isTrue(Option.isNone(new SinkHealth("http", policy).succeeded(1, 5)), "a healthy sink did not recover")
    assert.deepStrictEqual(health.succeeded(1, 3_000).pipe(Option.map(ms)), Option.some(3_000))
    assert.isFalse(health.failing)
    assert.strictEqual(health.successes, 1)
    assert.strictEqual(ms(health.unavailable(down, "conversation:1", 4_000, 4_000)), 250)
  })

  it("a PROBE_INTERVAL below 250 ms is the first wait too", () => {
    const health = new SinkHealth("http", { ...policy, interval: Duration.millis(100) })
    assert.strictEqual(ms(health.unavailable(down, "conversation:1", 0, 0)), 100)
    assert.strictEqual(ms(health.unavailable(down, "conversation:1", 100, 100)), 100)
  })

  it("a delivery's failure is its own once the target took another since it was sent or since it first failed", () => {
    const health = new SinkHealth("http", policy)
    assert.isFalse(health.ownFailure(7, health.successes), "nothing succeeded: the target may be down")
    assert.isFalse(health.ownFailure(7, health.successes), "still nothing")
    health.succeeded(8, 0)
    assert.isTrue(health.ownFailure(7, health.successes), "it failed before, and another passed since")
    assert.isTrue(health.ownFailure(7, health.successes), "and from then on, even with nothing else delivered")
    health.succeeded(7, 0)
    assert.isFalse(health.ownFailure(7, health.successes), "a success starts its count over")
    const sentWith = health.successes
    health.succeeded(9, 0)
    assert.isTrue(health.ownFailure(10, sentWith), "another delivery succeeded while it was in flight")
  })

  it("the keys that failed while the sink is failing are suspects until a delivery succeeds", () => {
    const health = new SinkHealth("http", policy)
    health.unavailable(down, "conversation:poison", 0, 0)
    health.unavailable(down, "contact:2", 250, 250)
    assert.sameMembers([...health.suspects], ["conversation:poison", "contact:2"])
    health.succeeded(3, 500)
    assert.strictEqual(health.suspects.size, 0)
  })
})
