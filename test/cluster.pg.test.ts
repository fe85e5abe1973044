import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { sign } from "../src/pipeline/Signature.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { databaseUrl, freshDatabase, pgHost, pgPort, queryDatabase } from "./support/Postgres.js"
import { type Service, spawnService } from "./support/Service.js"
import { requireService } from "./support/Services.js"
import { type Captured, startTarget } from "./support/Target.js"
import { startTcpProxy } from "./support/TcpProxy.js"
import { SECRET } from "./support/TestServer.js"

const up = await requireService("PostgreSQL", pgHost, pgPort)

const template = loadFixtures().find((fixture) => fixture.topic === "conversations.closed")!.json as object
const item = (template as { data: { item: object } }).data.item
/** The template with this id, about the template's conversation or the one named. */
const notification = (id: string, conversation?: string) =>
  Buffer.from(JSON.stringify({
    ...template,
    id,
    ...(conversation === undefined ? {} : { data: { item: { ...item, id: conversation } } })
  }))

interface Posted {
  readonly id: string
  /** 0 when the connection failed. */
  readonly status: number
  readonly outcome: unknown
  readonly retryAfter: string | null
}

const post = (service: Service, id: string, conversation?: string) =>
  Effect.promise((): Promise<Posted> => {
    const body = notification(id, conversation)
    return fetch(`${service.url}/webhooks/intercom`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature": sign(SECRET, body) },
      body
    }).then(
      async (response) => ({
        id,
        status: response.status,
        outcome: ((await response.json()) as { status?: unknown }).status,
        retryAfter: response.headers.get("retry-after")
      }),
      () => ({ id, status: 0, outcome: undefined, retryAfter: null })
    )
  })

/** Deliveries the instance made, from its /metrics. */
const deliveredBy = (service: Service) =>
  Effect.promise(() => fetch(`${service.url}/metrics`).then((response) => response.text())).pipe(
    Effect.map((text) => Number(/^intercom_webhook_sink_deliveries_total\{sink="http"\} (\d+)/m.exec(text)?.[1] ?? 0))
  )

const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, index) => `${prefix}-${index}`)

/** Every id in first-delivery order, as the target saw them. */
const firstDeliveries = (requests: ReadonlyArray<Captured>) => [
  ...new Set(requests.map((request) => request.headers["x-notification-id"] as string))
]

/** A password that trust authentication ignores: it is there to be looked for where it must never appear. */
const PASSWORD = "cluster-secret-pw"

/** Settings of instances sharing the database `name` (through `port` when given) and forwarding to `target`. */
const clusterEnv = (name: string, target: string, port = pgPort) => {
  const url = new URL(databaseUrl(name, "127.0.0.1", port))
  url.password = PASSWORD
  return {
    STORE_URL: url.toString(),
    SINKS: "http",
    HTTP_FORWARD_URL: target,
    RETRY_BASE_DELAY: "50ms",
    RETRY_MAX_DELAY: "200ms"
  }
}

const pidOf = (holder: string) => Number(holder.split("/")[1])

/** How many of the http sink's buckets each instance (by process id) holds. */
const bucketsHeld = (name: string) =>
  Effect.map(
    queryDatabase<{ holder: string; n: number }>(
      name,
      "SELECT holder, count(*)::int AS n FROM bucket_leases WHERE sink = 'http' AND expires_at > now() GROUP BY holder"
    ),
    (rows) => new Map(rows.map((row) => [pidOf(row.holder), row.n]))
  )

/** The process id of the instance holding the bucket of delivery key `key` for the http sink, if one does. */
const bucketHolder = (name: string, key: string) =>
  Effect.map(
    queryDatabase<{ holder: string }>(
      name,
      "SELECT holder FROM bucket_leases WHERE sink = 'http' AND bucket = (hashtext($1) & 63) AND expires_at > now()",
      [key]
    ),
    (rows) => rows.length === 0 ? undefined : pidOf(rows[0]!.holder)
  )

describe.runIf(up)("several instances on one PostgreSQL (real processes)", () => {
  it.scopedLive(
    "a notification and its retry reach different instances: one accepted, one duplicate, one delivery",
    () =>
      Effect.gen(function*() {
        const name = yield* freshDatabase
        const target = yield* startTarget()
        const env = clusterEnv(name, target.url)
        const [a, b] = yield* Effect.all([spawnService(env), spawnService(env)], { concurrency: 2 })

        const first = yield* post(a, "retry-1")
        const retry = yield* post(b, "retry-1")
        assert.deepStrictEqual([first.status, first.outcome], [200, "accepted"])
        assert.deepStrictEqual([retry.status, retry.outcome], [200, "duplicate"])

        // The same ids at both instances at the same instant: each is accepted by exactly one of them.
        const racing = ids("race", 40)
        const answers = yield* Effect.forEach(
          racing,
          (id) => Effect.all([post(a, id), post(b, id)], { concurrency: 2 }),
          { concurrency: 8 }
        )
        for (const [fromA, fromB] of answers) {
          assert.deepStrictEqual([fromA.status, fromB.status], [200, 200])
          assert.sameMembers([fromA.outcome, fromB.outcome], ["accepted", "duplicate"], fromA.id)
        }

        const all = ["retry-1", ...racing]
        yield* eventually(
          "every id at the target",
          Effect.sync(() => firstDeliveries(target.requests)),
          (seen) => seen.length === all.length,
          Duration.seconds(20)
        )
        // The other instance's worker would find a duplicate within its next poll: give it that time.
        yield* Effect.sleep(Duration.seconds(2))
        assert.strictEqual(target.requests.length, all.length, "each delivered once")
        for (const service of [a, b]) assert.notInclude(service.stderr(), PASSWORD)
      }),
    90_000
  )

  it.scopedLive(
    "both instances deliver; SIGKILL one under load: every acknowledged id reaches the target, the survivor takes its " +
      "buckets",
    () =>
      Effect.gen(function*() {
        const name = yield* freshDatabase
        const target = yield* startTarget()
        const env = clusterEnv(name, target.url)
        const services = yield* Effect.all([spawnService(env), spawnService(env)], { concurrency: 2 })
        const shared = yield* eventually(
          "both instances to hold half the buckets",
          bucketsHeld(name),
          (held) => services.every((service) => held.get(service.process.pid!) === 32),
          Duration.seconds(15)
        )
        assert.strictEqual(shared.size, 2)
        const [holder, survivor] = services as unknown as [Service, Service]

        const acked: Array<string> = []
        // Each notification about a conversation of its own: their keys spread over every bucket.
        const send = (service: Service, prefix: string) =>
          Effect.forEach(ids(prefix, 250), (id) =>
            Effect.map(post(service, id, id), (answer) => {
              if (answer.status === 200) acked.push(id)
            }), { concurrency: 8 })
        const sending = yield* Effect.fork(
          Effect.all([send(holder, "to-holder"), send(survivor, "to-survivor")], { concurrency: 2 })
        )
        yield* eventually("some acknowledgements", Effect.sync(() => acked.length), (n) => n >= 150, 30_000)
        for (const service of services) {
          yield* eventually(`deliveries by ${service.process.pid}`, deliveredBy(service), (n) => n > 0)
        }
        holder.process.kill("SIGKILL")
        const killedAt = Date.now()
        yield* sending.await
        assert.isBelow(acked.filter((id) => id.startsWith("to-holder")).length, 250, "killed while in flight")
        assert.isTrue(acked.some((id) => id.startsWith("to-survivor")))

        yield* eventually(
          "the survivor to take every bucket",
          bucketsHeld(name),
          (held) => held.size === 1 && held.get(survivor.process.pid!) === 64,
          Duration.millis(Math.max(1, 15_000 - (Date.now() - killedAt)))
        )
        yield* eventually(
          "every acknowledged id at the target",
          Effect.sync(() => new Set(firstDeliveries(target.requests))),
          (seen) => acked.every((id) => seen.has(id)),
          Duration.seconds(30)
        )
      }),
    90_000
  )

  it.scopedLive(
    "per-key order holds across a takeover: first deliveries in the order of the acknowledgements",
    () =>
      Effect.gen(function*() {
        const name = yield* freshDatabase
        // Every seventh request fails: retries keep a backlog queued behind a waiting head when the holder dies.
        const target = yield* startTarget((n) => n % 7 === 0 ? 503 : 200)
        const env = clusterEnv(name, target.url)
        const services = yield* Effect.all([spawnService(env), spawnService(env)], { concurrency: 2 })
        // Every notification is about the template's conversation: one key, whose bucket one instance holds.
        const key = `conversation:${(template as { data: { item: { id: string } } }).data.item.id}`
        const holderPid = yield* eventually("the key's bucket holder", bucketHolder(name, key), (pid) =>
          pid !== undefined)
        const holder = services.find((service) =>
          service.process.pid === holderPid
        )!
        const survivor = services.find((service) => service !== holder)!

        const acked: Array<string> = []
        const sendInTurn = (count: number, prefix: string, to: () => Service) =>
          Effect.forEach(ids(prefix, count), (id) =>
            Effect.map(post(to(), id), (answer) => {
              if (answer.status === 200) acked.push(id)
            }), { discard: true })
        let turn = 0
        yield* sendInTurn(40, "before", () => services[turn++ % 2]!)
        holder.process.kill("SIGKILL")
        yield* sendInTurn(40, "after", () => survivor)
        assert.strictEqual(acked.length, 80)

        // Only the requests the target took count: a refused one is sent again later.
        const taken = () => target.requests.filter((_, index) => (index + 1) % 7 !== 0)
        const delivered = yield* eventually(
          "every acknowledged id at the target",
          Effect.sync(() => firstDeliveries(taken())),
          (seen) => seen.length === acked.length,
          Duration.seconds(40)
        )
        assert.deepStrictEqual(delivered, acked)
      }),
    90_000
  )

  it.scopedLive(
    "the line to PostgreSQL cut and restored: 503 with Retry-After and unready while cut, accepting after, nothing lost",
    () =>
      Effect.gen(function*() {
        const name = yield* freshDatabase
        const target = yield* startTarget()
        const proxy = yield* startTcpProxy(pgHost, pgPort)
        const service = yield* spawnService(clusterEnv(name, target.url, proxy.port))
        const ready = Effect.promise(() => fetch(`${service.url}/readyz`).then((response) => response.status))

        const answers: Array<Posted> = []
        const sending = yield* Effect.fork(
          Effect.forEach(ids("cut", 400), (id) =>
            Effect.map(post(service, id), (answer) =>
              void answers.push(answer)).pipe(
                Effect.zipLeft(Effect.sleep(Duration.millis(20)))
              ), { concurrency: 4, discard: true })
        )
        yield* eventually(
          "acknowledgements before the cut",
          Effect.sync(() =>
            answers.length
          ),
          (n) => n >= 60
        )
        proxy.cut()
        const whileCut = yield* post(service, "while-cut")
        assert.strictEqual(whileCut.status, 503)
        assert.strictEqual(whileCut.retryAfter, "60")
        yield* eventually("unready while cut", ready, (status) => status === 503, Duration.seconds(5))
        const unready = yield* eventually(
          "the log line",
          Effect.sync(() => service.stderr().split("\n").find((line) => line.includes("not ready"))),
          (line) => line !== undefined
        )
        assert.include(unready, "store: PostgreSQL at", "what is wrong goes to the log")
        assert.notInclude(unready, PASSWORD)
        yield* Effect.sleep(Duration.seconds(2))
        proxy.restore()

        yield* eventually("ready again", ready, (status) => status === 200, Duration.seconds(15))
        const after = yield* post(service, "after-cut")
        assert.deepStrictEqual([after.status, after.outcome], [200, "accepted"])
        yield* sending.await
        assert.isTrue(answers.some((answer) => answer.status === 503), "some were refused while cut")
        assert.isTrue(answers.every((answer) => answer.status === 200 || answer.status === 503), "never another")

        const acked = [...answers.filter((answer) => answer.status === 200).map((answer) => answer.id), "after-cut"]
        yield* eventually(
          "every acknowledged id at the target",
          Effect.sync(() => new Set(firstDeliveries(target.requests))),
          (seen) => acked.every((id) => seen.has(id)),
          Duration.seconds(30)
        )
        assert.notInclude(service.stderr(), PASSWORD)
      }),
    90_000
  )
})
