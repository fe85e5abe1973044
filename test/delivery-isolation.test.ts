import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Layer, Logger, LogLevel } from "effect"
import parsePrometheus from "parse-prometheus-text-format"
import { Handlers } from "../src/sinks/Handlers.js"
import type { Sink } from "../src/sinks/Sink.js"
import { eventually } from "./support/Eventually.js"
import {
  assertOrderPerKey,
  delivered,
  type Exchange,
  keyedNotification,
  keyOf,
  startScriptedTarget,
  type Subject
} from "./support/KeyedDelivery.js"
import { startServer, type TestServerShape } from "./support/TestServer.js"

const PLANTED = "planted defect"

/**
 * A sink with a bug, given to the app under the `Handlers` tag (the way a program adds its typed handlers, but without
 * `Handlers.layer`, which turns a handler's defect into an ordinary failure): delivering `victim` dies with a defect
 * (`die`), or throws before it even returns an Effect (`throw`); every other notification is taken and recorded.
 */
const defectiveSink = (victim: string, how: "die" | "throw", taken: Array<string>) =>
  Layer.succeed(
    Handlers,
    {
      name: "handlers",
      mode: "outbox",
      input: "bytes",
      deliver: (notification) => {
        if (notification.id === victim) {
          if (how === "throw") throw new Error(`${PLANTED} (thrown) delivering ${victim}`)
          return Effect.die(new Error(`${PLANTED} delivering ${victim}`))
        }
        return Effect.sync(() => void taken.push(notification.id!))
      }
    } satisfies Sink
  )

interface LogEntry {
  readonly level: string
  /** The message, its annotations and its cause, as text. */
  readonly text: string
}

const show = (value: unknown): string => {
  if (typeof value === "string") return value
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** A logger that keeps the first 200 lines the app logs, in place of the default one, from `info` up. */
const capturingLogs = (entries: Array<LogEntry>) =>
  Layer.merge(
    Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ annotations, cause, logLevel, message }) => {
        // Bounded: a defect that loops (logging each time) must make this test fail, not run it out of memory.
        if (entries.length >= 200) return
        const parts = Array.isArray(message) ? message : [message]
        entries.push({
          level: logLevel.label,
          text: [
            ...parts.map(show),
            show(Object.fromEntries(annotations)),
            Cause.isEmpty(cause) ? "" : Cause.pretty(cause)
          ].join(" ")
        })
      })
    ),
    Logger.minimumLogLevel(LogLevel.Info)
  )

/** The value of a sample of /metrics; undefined when the series is not there. */
const metric = (server: TestServerShape, name: string, labels: Record<string, string>) =>
  Effect.map(server.request("/metrics"), (answer) => {
    const sample = parsePrometheus(answer.text).find((family) => family.name === name)?.metrics.find((candidate) =>
      Object.entries(labels).every(([key, value]) => candidate.labels?.[key] === value)
    )
    return sample?.value === undefined ? undefined : Number(sample.value)
  })

/** What the target answered, per id in the order first seen: `notif_1: 500 x39`. */
const answersById = (exchanges: ReadonlyArray<Exchange>) => {
  const byId = new Map<string, Array<string>>()
  for (const { id, reply, status } of exchanges) {
    const answer = status === undefined ? JSON.stringify(reply) : String(status)
    byId.set(String(id), [...(byId.get(String(id)) ?? []), answer])
  }
  return [...byId].map(([id, answers]) =>
    `${id}: ${[...new Set(answers)].map((answer) => `${answer} x${answers.filter((a) => a === answer).length}`)}`
  ).join("; ")
}

const subjects: ReadonlyArray<Subject> = [
  { kind: "conversation", id: "5001" },
  { kind: "contact", id: "c-5002" },
  { kind: "conversation", id: "5003" }
]

const cases = [
  { how: "die", order: "key" },
  { how: "throw", order: "key" },
  { how: "die", order: "receive" }
] as const

describe("a defect in one delivery", () => {
  it.scopedLive.each(cases)(
    "a sink that fails unexpectedly ($how, DELIVERY_ORDER=$order): that notification is a dead letter, logged and counted, and the rest is delivered",
    ({ how, order }) =>
      Effect.gen(function*() {
        const target = yield* startScriptedTarget(() => 200)
        const taken: Array<string> = []
        const logs: Array<LogEntry> = []
        // The victim is the 4th notification, about the first conversation; two of its key come after it.
        const plan = [0, 1, 2, 0, 1, 0, 2, 1, 0, 2, 0, 1]
        const sent = plan.map((subject, index) => {
          const about = subjects[subject]!
          const id = `notif_defect_${how}_${order}_${index}`
          return { id, key: keyOf(about), body: keyedNotification(id, about, index) }
        })
        const victim = sent[3]!
        const server = yield* startServer(
          {
            SINKS: "http",
            HTTP_FORWARD_URL: target.url,
            DELIVERY_ORDER: order,
            RETRY_BASE_DELAY: "10ms",
            RETRY_MAX_DELAY: "40ms",
            PROBE_INTERVAL: "100ms"
          },
          Layer.merge(defectiveSink(victim.id, how, taken), capturingLogs(logs))
        )
        const post = ({ body }: typeof sent[number]) =>
          Effect.map(server.post(body), (answer) => {
            assert.strictEqual(answer.status, 200, answer.text)
            assert.deepStrictEqual(answer.json.queued, ["http", "handlers"], answer.text)
          })

        yield* Effect.forEach(sent.slice(0, 8), post, { discard: true })
        const dead = yield* eventually(
          "the victim's dead letter",
          server.records("dead-letter.jsonl"),
          (records) => records.length > 0,
          Duration.seconds(10)
        )
        // Posted once the defect has happened: the sink still takes notifications, of the victim's key too.
        yield* Effect.forEach(sent.slice(8), post, { discard: true })
        const others = sent.filter(({ id }) => id !== victim.id)
        yield* eventually(
          "every other notification taken by the sink",
          Effect.sync(() => taken.length),
          (n) => n >= others.length,
          Duration.seconds(10)
        )
        yield* eventually("the outbox to drain", server.outboxDepth, (depth) => depth === 0, Duration.seconds(10))

        assert.strictEqual(dead.length, 1, JSON.stringify(dead))
        assert.strictEqual(dead[0]!.id, victim.id)
        assert.strictEqual(dead[0]!.sink, "handlers")
        assert.strictEqual(dead[0]!.reason, "rejected")
        assert.strictEqual(dead[0]!.attempts, 1, "a defect is a dead letter at once, not retried")
        assert.include(String(dead[0]!.error), PLANTED)
        assert.deepStrictEqual(dead[0]!.payload, JSON.parse(victim.body))
        assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), dead, "one dead letter in all")

        // Each notification once, each key in the order received (in receive order across keys with `receive`).
        const expected = order === "receive" ?
          others :
          subjects.flatMap((subject) => others.filter(({ key }) => key === keyOf(subject)))
        const seen = order === "receive" ?
          taken :
          subjects.flatMap((subject) =>
            taken.filter((id) => others.find((other) => other.id === id)!.key === keyOf(subject))
          )
        assert.deepStrictEqual(seen, expected.map(({ id }) => id))
        // The other sink was not held up by the defect: it has every notification, the victim included.
        yield* eventually(
          "the http target to have all",
          Effect.sync(() => target.exchanges.length),
          (n) => n >= sent.length
        )
        assertOrderPerKey(sent, target.exchanges)

        const errors = logs.filter(({ level }) => level === "ERROR")
        assert.isAtLeast(errors.length, 1, "the defect is logged at ERROR")
        assert.isTrue(
          errors.some(({ text }) => text.includes(PLANTED)),
          `an ERROR line names the defect: ${errors.map(({ text }) => text).join("\n")}`
        )
        const prefix = "intercom_webhook_"
        assert.strictEqual(yield* metric(server, `${prefix}delivery_defects_total`, { sink: "handlers" }), 1)
        assert.strictEqual(
          (yield* metric(server, `${prefix}delivery_worker_restarts_total`, { sink: "handlers" })) ?? 0,
          0,
          "the worker did not stop: the defect was the delivery's, not the worker's"
        )
        assert.strictEqual(
          yield* metric(server, `${prefix}dead_letters_total`, { sink: "handlers", reason: "rejected" }),
          1
        )
        assert.strictEqual((yield* metric(server, `${prefix}delivery_defects_total`, { sink: "http" })) ?? 0, 0)
      }),
    30_000
  )
})

describe("a notification the target cannot take", () => {
  it.scopedLive.each([1, 8])(
    "a target that always answers 500 to one notification (DELIVERY_CONCURRENCY=%s): only its key waits, it ends exhausted, the rest is delivered",
    (concurrency) =>
      Effect.gen(function*() {
        const plan = [0, 0, 1, 2, 1, 2, 0, 1, 2]
        const sent = plan.map((subject, index) => {
          const about = subjects[subject]!
          const id = `notif_poison_${concurrency}_${index}`
          return { id, key: keyOf(about), body: keyedNotification(id, about, index) }
        })
        const poison = sent[0]!
        const target = yield* startScriptedTarget((_, id) => id === poison.id ? 500 : 200)
        const server = yield* startServer({
          SINKS: "http",
          HTTP_FORWARD_URL: target.url,
          DELIVERY_CONCURRENCY: String(concurrency),
          MAX_ATTEMPTS: "3",
          RETRY_BASE_DELAY: "10ms",
          RETRY_MAX_DELAY: "40ms",
          PROBE_INTERVAL: "100ms"
        })
        for (const { body } of sent) assert.strictEqual((yield* server.post(body)).status, 200)
        const others = sent.filter(({ id }) => id !== poison.id)
        const deliveredIds = Effect.sync(() => new Set(delivered(target.exchanges).map(({ id }) => id)))
        yield* eventually(
          "every other notification delivered",
          deliveredIds,
          (ids) => others.every(({ id }) => ids.has(id)),
          Duration.seconds(8)
        ).pipe(Effect.catchAllDefect(() =>
          Effect.dieMessage(
            `the others were not all delivered within 8 s; the target got (id: answers): ${
              answersById(target.exchanges)
            }`
          )
        ))
        yield* eventually("the outbox to drain", server.outboxDepth, (depth) => depth === 0, Duration.seconds(10))
        const dead = yield* eventually(
          "the poison's dead letter",
          server.records("dead-letter.jsonl"),
          (records) => records.length > 0
        )
        assert.strictEqual(dead.length, 1, JSON.stringify(dead))
        assert.strictEqual(dead[0]!.id, poison.id)
        assert.strictEqual(dead[0]!.sink, "http")
        assert.strictEqual(dead[0]!.reason, "exhausted")
        assert.strictEqual(dead[0]!.attempts, 3)
        assertOrderPerKey(others, target.exchanges)
        const lastPoison = target.exchanges.map(({ id }) => id).lastIndexOf(poison.id)
        const firstOfItsKey = target.exchanges.findIndex(({ id }) => id === sent[1]!.id)
        assert.isAbove(firstOfItsKey, lastPoison, "the next of its key waited until it became a dead letter")
      }),
    30_000
  )
})
