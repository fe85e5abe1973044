import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either } from "effect"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { settings } from "../src/config/ReceiverConfig.js"
import { sign } from "../src/pipeline/Signature.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { spawnService } from "./support/Service.js"
import { SECRET, startServer } from "./support/TestServer.js"

const fixtures = loadFixtures()
const parsed = (file: string) => JSON.parse(fixtures.find((fixture) => fixture.file === file)!.bytes.toString())
const contact = parsed("contact-user-created.json")
const conversation = parsed("conversation-admin-closed-fin-ai-agent-lead.json")

/** A ping whose item has `extra` besides its own fields; `message` makes each body different. */
const ping = (extra: string, message = "drift") =>
  `{"type":"notification_event","app_id":"q8f3kz1m","data":{"type":"notification_event_data","item":{"type":"ping",` +
  `"message":${JSON.stringify(message)}${extra === "" ? "" : `,${extra}`}}},"links":{},"id":null,"topic":"ping",` +
  `"delivery_status":null,"delivery_attempts":1,"delivered_at":0,"first_sent_at":1768000000,"created_at":1768000000,` +
  `"self":null}`

/** `count` extra keys `k0`, `k1`, ... of value 0. */
const keys = (count: number) => Array.from({ length: count }, (_, i) => `"k${i}":0`).join(",")

/** A contacts.created notification with the id `id` and the fields of `extra` added to its item. */
const drifted = (id: string, extra: Record<string, unknown>) =>
  JSON.stringify({ ...contact, id, data: { ...contact.data, item: { ...contact.data.item, ...extra } } })

/** Every file under the capture folder, as `<topic>/<name>`. */
const captures = (dir: string): Array<string> => {
  const found: Array<string> = []
  for (const topic of readdirSync(dir)) {
    if (!statSync(join(dir, topic)).isDirectory()) continue
    for (const file of readdirSync(join(dir, topic))) found.push(`${topic}/${file}`)
  }
  return found.sort()
}

/** The value of a metric sample, 0 when absent. */
const metric = (text: string, name: string, labels = "") => {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`intercom_webhook_${name}${labels} `))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1))
}

/** Resident memory of a process in MB, and its peak so far. */
const memory = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0)
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 }
}

interface Poll {
  readonly sent: number
  readonly waited: number
  /** The request failed (the connection was reset). */
  readonly failed: boolean
}

/** Asks `GET /healthz` every 50 ms, each request on its own, until stopped: when each was sent and how long it took. */
const pollHealth = (url: string) => {
  const polls: Array<Poll> = []
  const pending: Array<Promise<void>> = []
  const timer = setInterval(() => {
    const sent = performance.now()
    pending.push(
      fetch(`${url}/healthz`).then((response) => response.text()).then(
        () => void polls.push({ sent, waited: performance.now() - sent, failed: false }),
        () => void polls.push({ sent, waited: performance.now() - sent, failed: true })
      )
    )
  }, 50)
  return {
    stop: () =>
      Effect.promise(async () => {
        clearInterval(timer)
        await Promise.all(pending)
        return polls
      })
  }
}

const postSigned = (url: string, body: Buffer) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}/webhooks/intercom`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature": sign(SECRET, body) },
      body
    })
    return { status: response.status, text: await response.text(), at: performance.now() }
  })

const longest = (polls: ReadonlyArray<Poll>) =>
  Math.max(0, ...polls.map((poll) => poll.failed ? Number.POSITIVE_INFINITY : poll.waited))

/** The bound on any `/healthz` wait that drift capture may cause, on a 2-core machine running the tests. */
const STALL_BOUND_MS = 200

describe("schema drift capture under hostile notifications", () => {
  it.scopedLive("a signed 4.4 MB ping with 380,000 extra keys is not checked: no stall after the answer, bounded memory", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "drift-hostile-"))
      const service = yield* spawnService({ DATA_DIR: dataDir, SINKS: "file", CAPTURE_DIR: join(dataDir, "captured") })
      const body = Buffer.from(ping(keys(380_000)))
      assert.isAbove(body.length, 4_000_000)
      yield* Effect.sleep(Duration.millis(300))
      const before = memory(service.process.pid!)
      const polling = pollHealth(service.url)
      const answer = yield* postSigned(service.url, body)
      yield* Effect.sleep(Duration.millis(1500))
      const polls = yield* polling.stop()
      const grown = memory(service.process.pid!).peak - before.rss
      assert.strictEqual(answer.status, 200)
      const afterAnswer = polls.filter((poll) => poll.sent >= answer.at)
      assert.isAbove(afterAnswer.length, 10)
      // The request's own parse of this body (before the answer) is the request path's cost, not drift capture's.
      assert.isBelow(
        longest(afterAnswer),
        STALL_BOUND_MS,
        `longest /healthz wait after the answer; whole run: ${Math.round(longest(polls))} ms`
      )
      assert.isBelow(grown, 200, `peak RSS grew by ${Math.round(grown)} MB`)
      const metrics = yield* Effect.promise(() => fetch(`${service.url}/metrics`).then((response) => response.text()))
      assert.strictEqual(metric(metrics, "schema_drift_skipped_total", "{reason=\"too_large\"}"), 1)
      assert.deepStrictEqual(readdirSync(dataDir).includes("captured") ? captures(join(dataDir, "captured")) : [], [])
    }))

  it.scopedLive("wide pings and conversations of 300 parts, each drifting, one after another: /healthz keeps answering", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "drift-parts-"))
      const capture = join(dataDir, "captured")
      const service = yield* spawnService({ DATA_DIR: dataDir, SINKS: "file", CAPTURE_DIR: capture })
      const part = conversation.data.item.conversation_parts.conversation_parts[0]
      // About 200 KB and 6,000 values each, within the limits: checked. Listing every difference of one took 100 ms.
      const conversations = Array.from({ length: 10 }, (_, i) =>
        Buffer.from(JSON.stringify({
          ...conversation,
          id: `notif_parts_${i}`,
          data: {
            ...conversation.data,
            item: {
              ...conversation.data.item,
              conversation_parts: {
                ...conversation.data.item.conversation_parts,
                conversation_parts: Array.from({ length: 300 }, (_, n) => ({ ...part, id: `${n}`, sentiment: "calm" }))
              }
            }
          }
        })))
      // About 210 KB and 20,000 values each: over the limit of values, not checked. Listing every difference took 200 ms.
      const wide = Array.from({ length: 10 }, (_, i) => Buffer.from(ping(keys(20_000), `wide ${i}`)))
      const bodies = conversations.flatMap((body, i) => [body, wide[i]!])
      assert.isBelow(Math.max(...bodies.map((body) => body.length)), 256 * 1024)
      yield* Effect.sleep(Duration.millis(300))
      const polling = pollHealth(service.url)
      for (const body of bodies) assert.strictEqual((yield* postSigned(service.url, body)).status, 200)
      yield* eventually("the capture", Effect.sync(() => readdirSync(dataDir).includes("captured")), (found) => found)
      yield* Effect.sleep(Duration.millis(1000))
      const polls = yield* polling.stop()
      assert.isBelow(longest(polls), STALL_BOUND_MS, "longest /healthz wait")
      const metrics = yield* Effect.promise(() => fetch(`${service.url}/metrics`).then((response) => response.text()))
      assert.isAbove(metric(metrics, "schema_drift_total", "{topic=\"conversations.closed\"}"), 0)
      assert.strictEqual(metric(metrics, "schema_drift_total", "{topic=\"ping\"}"), 0, "no wide ping was checked")
      assert.isAbove(metric(metrics, "schema_drift_skipped_total", "{reason=\"too_complex\"}"), 0)
      assert.deepStrictEqual(captures(capture).map((file) => file.split("/")[0]), ["conversations.closed"])
    }))
})

describe("schema drift capture: sampling, names, caps", () => {
  it.scopedLive("2,000 drifting pings of one shape make one file", () =>
    Effect.gen(function*() {
      const capture = mkdtempSync(join(tmpdir(), "capture-"))
      const server = yield* startServer({ CAPTURE_DIR: capture })
      for (let i = 0; i < 2000; i++) {
        assert.strictEqual((yield* server.post(ping("\"loyalty_tier\":\"gold\"", `ping ${i}`))).status, 200)
      }
      // Each is either checked (drifting: captured or sampled) or skipped while the checks are behind (busy).
      const metrics = yield* eventually(
        "every check",
        Effect.map(server.request("/metrics"), (answer) => answer.text),
        (text) =>
          metric(text, "schema_drift_skipped_total", "{reason=\"sampled\"}") +
              metric(text, "schema_drift_skipped_total", "{reason=\"busy\"}") === 1999
      )
      assert.deepStrictEqual(captures(capture).length, 1)
      assert.strictEqual(
        metric(metrics, "schema_drift_skipped_total", "{reason=\"sampled\"}"),
        metric(metrics, "schema_drift_total", "{topic=\"ping\"}") - 1
      )
      const [file] = captures(capture)
      assert.match(file!, /^ping\/captured-[0-9a-f]{16}\.json$/)
      assert.strictEqual(JSON.parse(readFileSync(join(capture, file!), "utf8")).data.item.loyalty_tier, "gold")
    }))

  it.scopedLive("two shapes make two files; the same shape again once its window is over makes another", () =>
    Effect.gen(function*() {
      const capture = mkdtempSync(join(tmpdir(), "capture-"))
      const server = yield* startServer({ CAPTURE_DIR: capture, CAPTURE_SAMPLE_WINDOW: "1s" })
      const checked = (n: number) =>
        eventually(
          `${n} checks`,
          Effect.map(server.request("/metrics"), (answer) => answer.text),
          (text) => metric(text, "schema_drift_total", "{topic=\"ping\"}") === n
        )
      for (let i = 0; i < 5; i++) {
        yield* server.post(ping("\"loyalty_tier\":\"gold\"", `a ${i}`))
        yield* server.post(ping("\"vip\":true", `b ${i}`))
        yield* checked(2 * i + 2)
      }
      assert.strictEqual(captures(capture).length, 2)
      yield* Effect.sleep(Duration.millis(1100))
      yield* server.post(ping("\"vip\":true", "b again"))
      yield* checked(11)
      yield* eventually("the third capture", Effect.sync(() => captures(capture).length), (n) => n === 3)
    }))

  it.scopedLive("ids a/b and a_b make two files", () =>
    Effect.gen(function*() {
      const capture = mkdtempSync(join(tmpdir(), "capture-"))
      const server = yield* startServer({ CAPTURE_DIR: capture })
      assert.strictEqual((yield* server.post(drifted("a/b", { loyalty_tier: "gold" }))).json.status, "accepted")
      assert.strictEqual((yield* server.post(drifted("a_b", { vip: true }))).json.status, "accepted")
      yield* eventually(
        "two checks",
        Effect.map(server.request("/metrics"), (answer) => answer.text),
        (text) => metric(text, "schema_drift_total", "{topic=\"contacts.created\"}") === 2
      )
      const files = yield* eventually(
        "the captures written",
        Effect.sync(() => captures(capture)),
        (found) => found.length > 0 && found.every((file) => file.endsWith(".json"))
      )
      assert.strictEqual(files.length, 2, files.join(", "))
      const ids = files.map((file) => JSON.parse(readFileSync(join(capture, file), "utf8")).id).sort()
      assert.deepStrictEqual(ids, ["a/b", "a_b"])
      for (const file of files) assert.match(file, /^contacts\.created\/captured-(a%2Fb|a_b)-[0-9a-f]{16}\.json$/)
    }))

  it.scopedLive("a duplicate is not inspected again", () =>
    Effect.gen(function*() {
      const capture = mkdtempSync(join(tmpdir(), "capture-"))
      const server = yield* startServer({ CAPTURE_DIR: capture })
      const body = drifted("notif_twice", { loyalty_tier: "gold" })
      assert.strictEqual((yield* server.post(body)).json.status, "accepted")
      assert.strictEqual((yield* server.post(body)).json.status, "duplicate")
      yield* eventually("the capture", Effect.sync(() => captures(capture).length), (n) => n === 1)
      yield* Effect.sleep(Duration.millis(200))
      const metrics = (yield* server.request("/metrics")).text
      assert.strictEqual(metric(metrics, "schema_drift_total", "{topic=\"contacts.created\"}"), 1)
      assert.strictEqual(metric(metrics, "schema_drift_skipped_total", "{reason=\"sampled\"}"), 0)
    }))

  it.scopedLive("CAPTURE_MAX_FILES counts the files already there and stops capture, logged once", () =>
    Effect.gen(function*() {
      const capture = mkdtempSync(join(tmpdir(), "capture-"))
      mkdirSync(join(capture, "ping"))
      writeFileSync(join(capture, "ping", "reviewed.json"), "{}\n")
      const server = yield* startServer({ CAPTURE_DIR: capture, CAPTURE_MAX_FILES: "2" })
      for (const field of ["a", "b", "c", "d"]) {
        assert.strictEqual((yield* server.post(ping(`"${field}":1`))).status, 200)
      }
      const metrics = yield* eventually(
        "four checks",
        Effect.map(server.request("/metrics"), (answer) => answer.text),
        (text) => metric(text, "schema_drift_total", "{topic=\"ping\"}") === 4
      )
      assert.strictEqual(captures(capture).length, 2)
      assert.strictEqual(metric(metrics, "schema_drift_skipped_total", "{reason=\"full\"}"), 3)
      const warnings = server.logs.filter((line) => line.includes("schema drift capture stopped"))
      assert.strictEqual(warnings.length, 1, server.logs.join("\n"))
      assert.strictEqual(JSON.parse(warnings[0]!).logLevel, "WARN")
    }))

  it.scopedLive("CAPTURE_MAX_BYTES stops capture before the folder holds more", () =>
    Effect.gen(function*() {
      const capture = mkdtempSync(join(tmpdir(), "capture-"))
      const server = yield* startServer({ CAPTURE_DIR: capture, CAPTURE_MAX_BYTES: "1000" })
      for (const field of ["a", "b", "c", "d", "e", "f"]) yield* server.post(ping(`"${field}":${"1".repeat(100)}`))
      const metrics = yield* eventually(
        "six checks",
        Effect.map(server.request("/metrics"), (answer) => answer.text),
        (text) => metric(text, "schema_drift_total", "{topic=\"ping\"}") === 6
      )
      const bytes = captures(capture).reduce((sum, file) => sum + statSync(join(capture, file)).size, 0)
      assert.isAbove(captures(capture).length, 0)
      assert.isAtMost(bytes, 1000)
      assert.strictEqual(
        metric(metrics, "schema_drift_skipped_total", "{reason=\"full\"}"),
        6 - captures(capture).length
      )
    }))

  it.scopedLive("a body over CAPTURE_MAX_BODY_BYTES is not checked, nor one of more than 10,000 values", () =>
    Effect.gen(function*() {
      const capture = mkdtempSync(join(tmpdir(), "capture-"))
      const server = yield* startServer({ CAPTURE_DIR: capture, CAPTURE_MAX_BODY_BYTES: "65536" })
      for (const id of ["notif_large_1", "notif_large_2"]) {
        const large = drifted(id, { loyalty_tier: "x".repeat(70_000) })
        assert.strictEqual((yield* server.post(large)).json.status, "accepted")
      }
      const complex = ping(`"values":[${Array.from({ length: 10_001 }, () => "0").join(",")}]`)
      assert.isBelow(complex.length, 65_536)
      assert.strictEqual((yield* server.post(complex)).status, 200)
      const metrics = yield* eventually(
        "the skips",
        Effect.map(server.request("/metrics"), (answer) => answer.text),
        (text) =>
          metric(text, "schema_drift_skipped_total", "{reason=\"too_large\"}") === 2 &&
          metric(text, "schema_drift_skipped_total", "{reason=\"too_complex\"}") === 1
      )
      assert.strictEqual(metric(metrics, "schema_drift_total", "{topic=\"contacts.created\"}"), 0)
      assert.strictEqual(metric(metrics, "schema_drift_total", "{topic=\"ping\"}"), 0)
      const skipped = server.logs.filter((line) => line.includes("schema drift check skipped"))
      assert.strictEqual(skipped.filter((line) => line.includes("too_large")).length, 1, "logged once")
      assert.strictEqual(skipped.filter((line) => line.includes("too_complex")).length, 1, "logged once")
      assert.deepStrictEqual(captures(capture), [])
    }))

  it.effect("the capture settings: defaults, and a wrong value refused", () =>
    Effect.gen(function*() {
      const read = (env: Record<string, string>) =>
        Effect.either(
          Effect.withConfigProvider(
            settings,
            ConfigProvider.fromMap(new Map(Object.entries({ INTERCOM_CLIENT_SECRET: SECRET, ...env })))
          )
        )
      const defaults = Either.getOrThrow(yield* read({}))
      assert.strictEqual(defaults.captureMaxBodyBytes, 262_144)
      assert.strictEqual(defaults.captureMaxFiles, 1000)
      assert.strictEqual(defaults.captureMaxBytes, 52_428_800)
      assert.strictEqual(Duration.toMillis(defaults.captureSampleWindow), 3_600_000)
      const refused = yield* read({ CAPTURE_MAX_FILES: "0" })
      assert.isTrue(Either.isLeft(refused))
      assert.include(String(Either.isLeft(refused) && refused.left), "CAPTURE_MAX_FILES")
    }))
})
