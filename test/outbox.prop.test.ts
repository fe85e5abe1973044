import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, FastCheck } from "effect"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { type Answer, startTarget } from "./support/Target.js"
import { startServer } from "./support/TestServer.js"

const template = loadFixtures().find((fixture) => fixture.topic === "conversations.closed")!.json as object
const notification = (id: string) => JSON.stringify({ ...template, id })

/** The target's answers to its first requests, every later one 200: failures, hangs past the timeout, successes. */
const answers = FastCheck.array(FastCheck.constantFrom<Answer>(503, 500, "hang", 200), { maxLength: 12 })

/**
 * Asserts that `delivered` (the ids the target answered 200, in the order it got them, repeats included) holds every
 * id of `sent`, and that none was delivered before every id sent earlier had been delivered at least once.
 */
const assertReceiveOrder = (sent: ReadonlyArray<string>, delivered: ReadonlyArray<string>) => {
  const shown = delivered.map((id) => sent.indexOf(id)).join(" ")
  let next = 0
  for (const id of delivered) {
    const index = sent.indexOf(id)
    assert.isAtLeast(index, 0, `${id} was never sent`)
    assert.isAtMost(index, next, `notification ${index} was delivered before ${next}: ${shown}`)
    if (index === next) next++
  }
  assert.strictEqual(next, sent.length, `not every notification was delivered: ${shown}`)
}

let run = 0

describe("the outbox (properties)", () => {
  it.scopedLive.prop(
    "whatever the target answers (503, 500, nothing, 200), it gets every notification, none before an earlier one",
    [
      FastCheck.integer({ min: 2, max: 8 }),
      answers,
      FastCheck.array(FastCheck.integer({ min: 0, max: 15 }), { maxLength: 8 })
    ],
    ([count, script, pauses]) =>
      Effect.gen(function*() {
        const answer = (n: number) => script[n - 1] ?? 200
        const target = yield* startTarget(answer)
        const server = yield* startServer({
          SINKS: "http",
          HTTP_FORWARD_URL: target.url,
          HTTP_FORWARD_TIMEOUT_MS: "100",
          RETRY_BASE_DELAY: "10ms",
          RETRY_MAX_DELAY: "40ms",
          PROBE_INTERVAL: "100ms",
          MAX_ATTEMPTS: "1000"
        })
        run++
        const sent = Array.from({ length: count }, (_, index) => `notif_order_${run}_${index}`)
        for (const [index, id] of sent.entries()) {
          assert.strictEqual((yield* server.post(notification(id))).status, 200)
          yield* Effect.sleep(Duration.millis(pauses[index] ?? 0))
        }
        yield* eventually("the outbox to drain", server.outboxDepth, (depth) => depth === 0, Duration.seconds(20))
        const delivered = target.requests.flatMap((request, index) =>
          answer(index + 1) === 200 ? [String(request.headers["x-notification-id"])] : []
        )
        assertReceiveOrder(sent, delivered)
      }),
    { timeout: 180_000, fastCheck: { numRuns: 15 } }
  )
})
