import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, type Scope } from "effect"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sign } from "../src/pipeline/Signature.js"
import { eventually } from "./support/Eventually.js"
import {
  assertOrderPerKey,
  delivered,
  keyedNotification,
  keyOf,
  startScriptedTarget,
  type Subject
} from "./support/KeyedDelivery.js"
import { databaseUrl, freshDatabase, pgHost, pgPort } from "./support/Postgres.js"
import { spawnService } from "./support/Service.js"
import { requireService } from "./support/Services.js"
import { SECRET } from "./support/TestServer.js"

const up = await requireService("PostgreSQL", pgHost, pgPort)

/** A loopback port nobody listens on right now. */
const freePort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
)

/** POSTs one signed notification to a service; its status. */
const post = (url: string, body: string) =>
  Effect.promise(() =>
    fetch(`${url}/webhooks/intercom`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature": sign(SECRET, Buffer.from(body)) },
      body
    }).then(async (response) => ({ status: response.status, text: await response.text() }))
  )

const subjects: ReadonlyArray<Subject> = [
  { kind: "conversation", id: "8101" },
  { kind: "contact", id: "c-8102" },
  { kind: "conversation", id: "8103" },
  { kind: "contact", id: "c-8104" },
  { kind: "conversation", id: "8105" }
]

const PROBE_INTERVAL_MS = 1000
const CONCURRENCY = 4

/**
 * The target down through the whole outage: first not listening at all (connection refused), then, after a restart,
 * answering 503. Notifications arrive all the while; then the target comes back.
 */
const outage = (store: Effect.Effect<Record<string, string>, never, Scope.Scope>) =>
  Effect.gen(function*() {
    const dataDir = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "recovery-"))),
      (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
    )
    const port = yield* freePort
    const env = {
      DATA_DIR: dataDir,
      SINKS: "http",
      HTTP_FORWARD_URL: `http://127.0.0.1:${port}/hooks`,
      HTTP_FORWARD_TIMEOUT_MS: "1000",
      PROBE_INTERVAL: `${PROBE_INTERVAL_MS}ms`,
      DELIVERY_CONCURRENCY: String(CONCURRENCY),
      // One failed attempt would make a notification `exhausted`: an outage must spend none.
      MAX_ATTEMPTS: "1",
      RETRY_BASE_DELAY: "10ms",
      RETRY_MAX_DELAY: "40ms",
      ...(yield* store)
    }
    const sent = Array.from({ length: 50 }, (_, index) => {
      const about = subjects[(index * 7 + (index >> 2)) % subjects.length]!
      const id = `notif_recovery_${index}`
      return { id, key: keyOf(about), body: keyedNotification(id, about, index, 1771400000 + index) }
    })
    const postAll = (url: string, part: typeof sent) =>
      Effect.forEach(part, ({ body }) =>
        Effect.map(post(url, body), (answer) => assert.strictEqual(answer.status, 200, answer.text)), {
        discard: true
      })

    // Nothing listens: every attempt is refused.
    const first = yield* spawnService(env)
    yield* postAll(first.url, sent.slice(0, 25))
    yield* Effect.sleep(Duration.millis(1500))
    first.process.kill("SIGTERM")
    assert.strictEqual(
      yield* Effect.promise(() =>
        first.exited
      ),
      0,
      first.stderr()
    )

    // The target answers 503 until it is back.
    let back = false
    const target = yield* startScriptedTarget(() => back ? 200 : 503, port)
    const second = yield* spawnService(env)
    const downSince = performance.now()
    yield* postAll(second.url, sent.slice(25))
    // Long enough for the probes to reach PROBE_INTERVAL apart (250 ms, 500 ms, 1 s, ...).
    yield* Effect.sleep(Duration.millis(3000))
    const whileDown = target.exchanges.length
    const downFor = performance.now() - downSince
    assert.isAtLeast(whileDown, 2, "the service tried the target while it answered 503")
    assert.deepStrictEqual(delivered(target.exchanges), [], "nothing succeeded while the target answered 503")
    // A fresh process sends up to DELIVERY_CONCURRENCY deliveries before it learns the target is down; after that it
    // probes with one delivery at a time, 250 ms, then twice as far apart up to PROBE_INTERVAL.
    const times = target.exchanges.map(({ receivedAt }) => receivedAt)
    const burst = times.filter((time) => time - times[0]! < 150)
    assert.isAtMost(burst.length, CONCURRENCY, "the first attempts, at most DELIVERY_CONCURRENCY")
    const probes = times.slice(burst.length)
    const gaps = probes.map((time, index) => time - (index === 0 ? burst[burst.length - 1]! : probes[index - 1]!))
    assert.isAtLeast(probes.length, 2, "probes while the target answered 503")
    assert.isTrue(
      gaps.every((gap) => gap >= 200),
      `probes one at a time, at least 250 ms apart: ${gaps.map(Math.round).join(", ")} ms`
    )
    assert.isAtMost(whileDown, CONCURRENCY + Math.ceil(downFor / 250) + 1, "not hammered")
    back = true
    const cameBack = performance.now()
    yield* eventually(
      "the first delivery",
      Effect.sync(() => delivered(target.exchanges).length),
      (n) => n > 0,
      Duration.seconds(10)
    )
    const firstDelivery = delivered(target.exchanges)[0]!.receivedAt - cameBack
    assert.isBelow(
      firstDelivery,
      2500,
      `the first delivery came ${Math.round(firstDelivery)} ms after the target was back`
    )

    const deliveredIds = Effect.sync(() => new Set(delivered(target.exchanges).map(({ id }) => id)))
    yield* eventually("all 50 delivered", deliveredIds, (ids) => ids.size === sent.length, Duration.seconds(20))
    assertOrderPerKey(sent, target.exchanges)
    assert.strictEqual(delivered(target.exchanges).length, sent.length, "each delivered once")

    const deadLetters = yield* Effect.promise(() =>
      readFile(join(dataDir, "dead-letter.jsonl"), "utf8").catch(() => "")
    )
    const exhausted = deadLetters.split("\n").filter((line) => line.includes("\"exhausted\""))
    assert.deepStrictEqual(exhausted, [], "an outage makes no `exhausted` dead letter")
    assert.strictEqual(deadLetters, "", "no dead letter at all")
  })

describe("recovery from an outage (real processes)", () => {
  it.scopedLive(
    "target down while 50 notifications of 5 keys arrive, with a restart: delivered within PROBE_INTERVAL of its return, each key in order, none exhausted",
    () => outage(Effect.succeed({})),
    60_000
  )

  it.scopedLive.runIf(up)(
    "the same on PostgreSQL",
    () => outage(Effect.map(freshDatabase, (name) => ({ STORE_URL: databaseUrl(name) }))),
    60_000
  )
})
