import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, FastCheck, type Scope } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import {
  assertOrderPerKey,
  delivered,
  keyedNotification,
  keyOf,
  overlaps,
  type Reply,
  startScriptedTarget,
  type Subject
} from "./support/KeyedDelivery.js"
import { databaseUrl, freshDatabase, pgHost, pgPort } from "./support/Postgres.js"
import { requireService } from "./support/Services.js"
import { type Answer, startTarget } from "./support/Target.js"
import { startServer, type TestServerShape } from "./support/TestServer.js"

const up = await requireService("PostgreSQL", pgHost, pgPort)

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

/**
 * The target's answers to its first requests (every later one a 200, see `tail`): unavailable (503, 500, 429, 408),
 * no answer past `HTTP_FORWARD_TIMEOUT_MS`, a 200 after a delay well within it, a 200 at once. At most 20 of them: with
 * the default `MAX_ATTEMPTS` (25) no notification can become `exhausted`, whichever failures the service counts.
 */
const replies = FastCheck.array(
  FastCheck.oneof(
    { arbitrary: FastCheck.constantFrom<Reply>(503, 500, 429, 408), weight: 4 },
    { arbitrary: FastCheck.constant<Reply>("hang"), weight: 1 },
    {
      arbitrary: FastCheck.integer({ min: 5, max: 120 }).map((delayMs): Reply => ({ status: 200, delayMs })),
      weight: 3
    },
    { arbitrary: FastCheck.constant<Reply>(200), weight: 2 }
  ),
  { maxLength: 20, size: "medium" }
)

/** 2-6 conversations and contacts, 5-30 notifications about them interleaved, the target's script, a restart. */
const plans = FastCheck.record({
  subjects: FastCheck.array(FastCheck.constantFrom<Subject["kind"]>("conversation", "contact"), {
    minLength: 2,
    maxLength: 6
  }),
  sends: FastCheck.array(
    FastCheck.record({
      subject: FastCheck.nat(5),
      variant: FastCheck.nat(2),
      pause: FastCheck.constantFrom(0, 0, 0, 10, 40)
    }),
    { minLength: 5, maxLength: 30, size: "medium" }
  ),
  replies,
  /** How long the target takes over each 200 after the script: while it does, deliveries queue up behind it. */
  tail: FastCheck.constantFrom(0, 5, 20, 40),
  concurrency: FastCheck.integer({ min: 1, max: 8 }),
  together: FastCheck.boolean(),
  restart: FastCheck.option(
    FastCheck.record({ after: FastCheck.nat(29), settle: FastCheck.constantFrom(0, 50, 200) }),
    { freq: 2, nil: undefined }
  )
})

type Plan = typeof plans extends FastCheck.Arbitrary<infer A> ? A : never

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "keys-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

let keyedRun = 0

/**
 * Posts the plan's notifications (each key's one after the other, each answered 200 before the next of its key),
 * restarting the service on the same store when the plan says so, waits for the outbox to drain and checks what the
 * target got: for each key, first successful deliveries in the order sent; no dead letter; without a restart, at most
 * `DELIVERY_CONCURRENCY` in flight and never two of one key; without a restart or a timeout, each delivered once.
 */
const manyKeys = (store: Effect.Effect<Record<string, string>, never, Scope.Scope>) => (plan: Plan) =>
  Effect.gen(function*() {
    const target = yield* startScriptedTarget((n) =>
      plan.replies[n - 1] ?? (plan.tail === 0 ? 200 : { status: 200, delayMs: plan.tail })
    )
    const env = {
      DATA_DIR: yield* tempDir,
      SINKS: "http",
      HTTP_FORWARD_URL: target.url,
      HTTP_FORWARD_TIMEOUT_MS: "500",
      RETRY_BASE_DELAY: "10ms",
      RETRY_MAX_DELAY: "40ms",
      PROBE_INTERVAL: "100ms",
      DELIVERY_CONCURRENCY: String(plan.concurrency),
      ...(yield* store)
    }
    keyedRun++
    const subjects = plan.subjects.map((kind, index): Subject => ({
      kind,
      id: `${kind === "conversation" ? 7 : 9}00${index}`
    }))
    const sent = plan.sends.map(({ pause, subject, variant }, index) => {
      const about = subjects[subject % subjects.length]!
      const id = `notif_keys_${keyedRun}_${index}`
      return { id, key: keyOf(about), body: keyedNotification(id, about, variant, 1771400000 + index), pause }
    })
    const post = (server: TestServerShape) => ({ body, pause }: typeof sent[number]) =>
      Effect.gen(function*() {
        const answer = yield* server.post(body)
        assert.strictEqual(answer.status, 200, answer.text)
        assert.strictEqual(answer.json.status, "accepted", answer.text)
        yield* Effect.sleep(Duration.millis(pause))
      })
    /** One at a time, or each key's in order with the keys side by side (receive order across keys is then open). */
    const postAll = (server: TestServerShape, part: typeof sent) =>
      plan.together
        ? Effect.forEach(
          subjects.map((subject) => part.filter(({ key }) => key === keyOf(subject))),
          (ofKey) => Effect.forEach(ofKey, post(server), { discard: true }),
          { concurrency: "unbounded", discard: true }
        )
        : Effect.forEach(part, post(server), { discard: true })

    const restartAt = plan.restart === undefined ? 0 : 1 + (plan.restart.after % (sent.length - 1))
    if (plan.restart !== undefined) {
      const settle = plan.restart.settle
      yield* Effect.scoped(Effect.gen(function*() {
        yield* postAll(yield* startServer(env), sent.slice(0, restartAt))
        yield* Effect.sleep(Duration.millis(settle))
      }))
    }
    const server = yield* startServer(env)
    yield* postAll(server, sent.slice(restartAt))
    yield* eventually("the outbox to drain", server.outboxDepth, (depth) => depth === 0, Duration.seconds(30))

    assertOrderPerKey(sent, target.exchanges)
    assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), [], "no dead letter")
    const keys = new Map(sent.map(({ id, key }) => [id, key]))
    if (plan.restart === undefined) {
      const { most, sameKey } = overlaps(target.exchanges, (id) => keys.get(id)!)
      assert.isAtMost(most, plan.concurrency, "deliveries in flight at once, at most DELIVERY_CONCURRENCY")
      assert.deepStrictEqual(sameKey, [], "two deliveries of one key in flight at once")
    }
    if (plan.restart === undefined && !target.exchanges.some(({ reply }) => reply === "hang")) {
      const successes = delivered(target.exchanges).map(({ id }) => id)
      assert.deepStrictEqual(
        [...successes].sort(),
        sent.map(({ id }) => id).sort(),
        "without restarts or timeouts, each notification is delivered successfully exactly once"
      )
    }
  })

const manyKeysProperty = (store: Effect.Effect<Record<string, string>, never, Scope.Scope>, numRuns: number) =>
  it.scopedLive.prop(
    "many conversations and contacts, a random target, restarts: every notification arrives, each key in order",
    [plans],
    ([plan]) => manyKeys(store)(plan),
    { timeout: 120_000, fastCheck: { numRuns, endOnFailure: true } }
  )

describe("the outbox by key (properties), SQLite", () => {
  manyKeysProperty(Effect.succeed({}), 20)
})

describe.runIf(up)("the outbox by key (properties), PostgreSQL", () => {
  manyKeysProperty(Effect.map(freshDatabase, (name) => ({ STORE_URL: databaseUrl(name) })), 14)
})
