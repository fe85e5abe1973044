import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { execFile } from "node:child_process"
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import parsePrometheus, { type Sample } from "parse-prometheus-text-format"
import { Annotated } from "../src/ops/LogLines.js"
import { eventually } from "./support/Eventually.js"
import { fixturesDir, loadFixtures } from "./support/Fixtures.js"
import { spawnService } from "./support/Service.js"
import { type Captured, startTarget } from "./support/Target.js"
import { SECRET, startServer } from "./support/TestServer.js"

const fixtures = loadFixtures()
const fixture = (topic: string) => fixtures.find((candidate) => candidate.topic === topic)!
const root = new URL("..", import.meta.url).pathname
const tsx = join(root, "node_modules/.bin/tsx")
const run = (args: ReadonlyArray<string>, input?: string) =>
  Effect.promise(() =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(tsx, args, { cwd: root }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }))
      if (input !== undefined) {
        child.stdin!.end(input)
      }
    })
  )

/** The value of the sample of `name` whose labels include `labels`. */
const sample = (text: string, name: string, labels: Record<string, string> = {}): Sample | undefined =>
  parsePrometheus(text).find((family) => family.name === name)?.metrics.find((metric) =>
    Object.entries(labels).every(([key, value]) => metric.labels?.[key] === value)
  )
/**
 * One labelled series of a histogram. parse-prometheus-text-format merges the series of a histogram whatever
 * their labels, so only that series' lines are given to it.
 */
const histogram = (text: string, name: string, label: string) =>
  parsePrometheus(
    text.split("\n").filter((line) => line.startsWith("#") ? line.includes(` ${name} `) : line.includes(label)).join(
      "\n"
    )
  ).find((family) => family.name === name)!
const value = (text: string, name: string, labels: Record<string, string> = {}) =>
  Number(sample(text, name, labels)?.value ?? Number.NaN)

describe("operations", () => {
  it.scopedLive("GET /metrics exposes requests, notifications, signatures, sinks, outbox, dead letters, dedupe", () =>
    Effect.gen(function*() {
      const target: { url: string; requests: ReadonlyArray<Captured> } = yield* startTarget((n) =>
        n === 1 ? 500 : target.requests[n - 1]!.body.includes("\"topic\":\"ping\"") ? 400 : 200
      )
      const server = yield* startServer({
        INTERCOM_CLIENT_SECRET: `old-secret,${SECRET}`,
        SINKS: "file,http",
        HTTP_FORWARD_URL: target.url,
        RETRY_BASE_DELAY: "10ms",
        RETRY_MAX_DELAY: "20ms",
        PROBE_INTERVAL: "100ms"
      })
      const contact = fixture("contacts.created")
      assert.strictEqual((yield* server.post(contact.bytes)).status, 200)
      assert.strictEqual((yield* server.post(contact.bytes)).json.status, "duplicate")
      assert.strictEqual((yield* server.post(contact.bytes, { secret: "wrong" })).status, 401)
      const broken = JSON.stringify({ type: "notification_event", topic: "ping", data: { item: { type: 5 } } })
      assert.strictEqual((yield* server.post(broken)).json.schema, "mismatch")
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      // The dead letter is counted once its line is on disk, a moment after its row left the outbox.
      yield* eventually(
        "the rejected delivery's dead letter",
        server.records("dead-letter.jsonl"),
        (dead) => dead.length === 1
      )
      const metrics = yield* server.request("/metrics")
      assert.strictEqual(metrics.status, 200)
      assert.include(metrics.headers.get("content-type")!, "text/plain")
      const text = metrics.text
      const prefix = "intercom_webhook_"
      assert.strictEqual(value(text, `${prefix}requests_total`, { status: "200" }), 3)
      assert.strictEqual(
        value(text, `${prefix}notifications_total`, { topic: "ping", intercom_topic: "ping", outcome: "accepted" }),
        1,
        "a schema mismatch is accepted"
      )
      assert.strictEqual(value(text, `${prefix}requests_total`, { status: "401" }), 1)
      assert.strictEqual(
        value(text, `${prefix}notifications_total`, {
          topic: "contacts.created",
          intercom_topic: (contact.json as { topic: string }).topic,
          outcome: "accepted"
        }),
        1
      )
      assert.strictEqual(value(text, `${prefix}signature_failures_total`, { reason: "mismatch" }), 1)
      assert.strictEqual(value(text, `${prefix}signature_verified_total`, { secret_index: "1" }), 3)
      assert.isUndefined(sample(text, `${prefix}signature_verified_total`, { secret_index: "0" }), "old secret unused")
      assert.strictEqual(value(text, `${prefix}decode_failures_total`, { topic: "ping" }), 1)
      assert.strictEqual(value(text, `${prefix}dedupe_hits_total`), 1)
      assert.strictEqual(value(text, `${prefix}dead_letters_total`, { sink: "http", reason: "rejected" }), 1)
      assert.strictEqual(value(text, `${prefix}sink_deliveries_total`, { sink: "file" }), 2)
      assert.strictEqual(value(text, `${prefix}sink_deliveries_total`, { sink: "http" }), 1)
      assert.strictEqual(value(text, `${prefix}sink_failures_total`, { sink: "http", kind: "unavailable" }), 1)
      assert.strictEqual(value(text, `${prefix}sink_failures_total`, { sink: "http", kind: "rejected" }), 1)
      assert.strictEqual(value(text, `${prefix}sink_available`, { sink: "http" }), 1, "the 500 was followed by a 200")
      assert.strictEqual(value(text, `${prefix}sink_unavailable_seconds`, { sink: "http" }), 0)
      assert.strictEqual(value(text, `${prefix}sink_outbox_depth`, { sink: "http" }), 0)
      assert.strictEqual(value(text, `${prefix}sink_oldest_age_seconds`, { sink: "http" }), 0)
      assert.strictEqual(value(text, `${prefix}delivery_defects_total`, { sink: "http" }), 0)
      assert.strictEqual(value(text, `${prefix}delivery_worker_restarts_total`, { sink: "http" }), 0)
      const timings = histogram(text, `${prefix}sink_delivery_seconds`, "sink=\"http\"")
      assert.strictEqual(timings.type, "HISTOGRAM")
      assert.strictEqual(Number(timings.metrics[0]!.buckets!["+Inf"]), 3, "a failure, a delivery, a rejection")
      assert.strictEqual(value(text, `${prefix}outbox_depth`), 0)
      assert.strictEqual(value(text, `${prefix}outbox_oldest_age_seconds`), 0)
    }))

  it.scopedLive("logs: one JSON line per request on stderr, no secret, no payload", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "logs-"))
      const service = yield* spawnService({ DATA_DIR: dataDir, SINKS: "file", LOG_FORMAT: "json" })
      const contact = fixture("contacts.created")
      const { sign } = yield* Effect.promise(() => import("../src/pipeline/Signature.js"))
      yield* Effect.promise(() =>
        fetch(`${service.url}/webhooks/intercom`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-hub-signature": sign(SECRET, contact.bytes) },
          body: contact.bytes
        })
      )
      const line = yield* eventually(
        "the request's log line",
        Effect.sync(() => service.stderr().split("\n").find((candidate) => candidate.includes(`"webhook"`))),
        (found) => found !== undefined
      )
      const entry = JSON.parse(line!)
      assert.deepStrictEqual(Object.keys(entry), ["message", "logLevel", "timestamp", "annotations"])
      assert.strictEqual(entry.message, "webhook")
      assert.strictEqual(entry.logLevel, "INFO")
      assert.strictEqual(new Date(entry.timestamp).toISOString(), entry.timestamp)
      assert.strictEqual(entry.annotations.status, 200)
      assert.strictEqual(entry.annotations.topic, "contacts.created")
      assert.strictEqual(entry.annotations.id, (contact.json as { id: string }).id)
      assert.isNumber(entry.annotations.duration_ms)
      // Every line carries only fields with values: no fiber id, no empty annotations or spans.
      const lines = service.stderr().split("\n").filter((text) => text.length > 0).map((text) => JSON.parse(text))
      const listening = lines.find((logged) => String(logged.message).startsWith("Listening on"))
      assert.deepStrictEqual(Object.keys(listening), ["message", "logLevel", "timestamp"])
      for (const logged of lines) {
        assert.notProperty(logged, "fiberId", JSON.stringify(logged))
        for (const field of ["annotations", "spans"]) {
          if (field in logged) assert.isNotEmpty(Object.keys(logged[field]), JSON.stringify(logged))
        }
      }
      assert.notInclude(service.stderr(), SECRET)
      assert.notInclude(service.stderr(), "Søren")
    }))

  it.scopedLive("logs: a dead letter is logged at WARN when it is made, with its sink, reason and notification id", () =>
    Effect.gen(function*() {
      const target = yield* startTarget(() => 400)
      const server = yield* startServer({
        SINKS: "http,mirror",
        HTTP_FORWARD_URL: `${target.url}?token=s3cr3t-token`,
        ROUTES: "contacts.*=http,mirror"
      })
      const contact = JSON.parse(fixture("contacts.created").bytes.toString())
      const mismatch = { ...contact, id: "notif_mismatch_1" }
      mismatch.data = { ...contact.data, item: { ...contact.data.item, email: ["leak-me@example.org"] } }
      assert.strictEqual((yield* server.post(JSON.stringify(contact))).json.status, "accepted")
      assert.strictEqual((yield* server.post(JSON.stringify(mismatch))).json.schema, "mismatch")
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).json.status, "dead_lettered")
      yield* eventually("four dead letters", server.records("dead-letter.jsonl"), (dead) => dead.length === 4)
      const warned = server.logs.map((line) => JSON.parse(line)).filter((line) => line.message === "dead letter")
      const found = (sink: string, reason: string, id: string) =>
        warned.find(({ annotations }) =>
          annotations.sink === sink && annotations.reason === reason && annotations.id === id
        )
      for (const id of [contact.id, "notif_mismatch_1"]) {
        const rejected = found("http", "rejected", id)
        assert.isDefined(rejected, `the http dead letter of ${id}: ${JSON.stringify(warned)}`)
        assert.strictEqual(rejected.logLevel, "WARN")
        assert.include(rejected.annotations.error, "answered 400")
        assert.isNumber(rejected.annotations.dead_letter)
      }
      const noRoute = found("none", "no_route", "-")
      assert.isDefined(noRoute, "the ping no rule routes")
      assert.strictEqual(noRoute.annotations.intercom_topic, "ping")
      const mismatched = found("mirror", "schema_mismatch", "notif_mismatch_1")
      assert.isDefined(mismatched, "the mirror's dead letter of the mismatch")
      assert.notProperty(mismatched.annotations, "error", "a mismatch's error quotes the payload")
      assert.strictEqual(warned.length, 4)
      assert.notInclude(server.logs.join("\n"), "s3cr3t-token")
      assert.notInclude(server.logs.join("\n"), "leak-me")
    }))

  it.scopedLive("logs: the request line goes to the app's loggers at info, and not when the level is above it", () =>
    Effect.gen(function*() {
      const requestLines = (level: LogLevel.LogLevel) =>
        Effect.gen(function*() {
          const lines: Array<unknown> = []
          const capturing = Logger.make(({ logLevel, message }) => {
            const [annotated] = message as ReadonlyArray<unknown>
            if (annotated instanceof Annotated && annotated.message === "webhook") {
              lines.push([logLevel.label, annotated])
            }
          })
          const server = yield* startServer(
            { SINKS: "file" },
            Layer.merge(Logger.replace(Logger.defaultLogger, capturing), Logger.minimumLogLevel(level))
          )
          assert.strictEqual((yield* server.post(fixture("contacts.created").bytes)).status, 200)
          return lines
        })
      assert.deepStrictEqual(yield* requestLines(LogLevel.Warning), [])
      const [line, ...others] = yield* requestLines(LogLevel.Info)
      assert.deepStrictEqual(others, [])
      const [label, annotated] = line as [string, Annotated]
      assert.strictEqual(label, "INFO")
      assert.include(annotated.annotations, { status: 200, topic: "contacts.created", outcome: "accepted" })
    }))

  it.scopedLive("schema drift: capture, review, add as a fixture, regenerate", () =>
    Effect.gen(function*() {
      const capture = mkdtempSync(join(tmpdir(), "capture-"))
      const server = yield* startServer({ SINKS: "file", CAPTURE_DIR: capture })
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      const drifted = JSON.parse(fixture("contacts.created").bytes.toString())
      drifted.id = "notif_drift_1"
      drifted.data.item.loyalty_tier = "gold"
      drifted.data.item.email = "someone@example.org"
      assert.strictEqual((yield* server.post(JSON.stringify(drifted))).json.status, "accepted")
      const folder = join(capture, "contacts.created")
      const name = yield* eventually(
        "the capture",
        Effect.sync(() =>
          existsSync(folder)
            ? readdirSync(folder).find((file) => /^captured-notif_drift_1-[0-9a-f]{16}\.json$/.test(file))
            : undefined
        ),
        (found) => found !== undefined
      )
      const file = join(folder, name!)
      assert.deepStrictEqual(readdirSync(capture), ["contacts.created"], "a matching notification is not captured")
      const captured = JSON.parse(readFileSync(file, "utf8"))
      assert.strictEqual(captured.data.item.loyalty_tier, "gold")
      assert.strictEqual(captured.data.item.email, "redacted-email")
      const metrics = (yield* server.request("/metrics")).text
      assert.strictEqual(value(metrics, "intercom_webhook_schema_drift_total", { topic: "contacts.created" }), 1)

      const work = mkdtempSync(join(tmpdir(), "loop-"))
      cpSync(fixturesDir, join(work, "fixtures"), { recursive: true })
      cpSync(file, join(work, "fixtures", "contacts.created", "loyalty-tier.json"))
      const out = join(work, "generated")
      const stale = yield* run([
        "scripts/codegen.ts",
        "--fixtures",
        join(work, "fixtures"),
        "--out",
        join(root, "src/generated"),
        "--check"
      ])
      assert.strictEqual(stale.code, 1, "the committed schemas no longer match")
      assert.strictEqual(
        (yield* run(["scripts/codegen.ts", "--fixtures", join(work, "fixtures"), "--out", out])).code,
        0
      )
      assert.include(
        readFileSync(join(out, "Objects.ts"), "utf8"),
        "loyalty_tier: Schema.optional(Schema.NullOr(Schema.String))"
      )
    }))

  it.live("npm run sign prints Intercom's signature of standard input", () =>
    Effect.gen(function*() {
      const body = "{\"type\":\"notification_event\",\"topic\":\"ping\"}"
      const signed = yield* run(["scripts/sign.ts", "--secret", "my-client-secret"], body)
      assert.strictEqual(signed.stdout, "sha1=dc2486fdb2fddedce1bcb8873be8dcd7e5e0eae2\n")
    }))

  it.live("each CLI explains itself with --help", () =>
    Effect.gen(function*() {
      for (const script of ["send", "replay", "sign"]) {
        const help = yield* run([`scripts/${script}.ts`, "--help"])
        assert.strictEqual(help.code, 0, script)
        assert.include(help.stdout, `npm run`, script)
      }
    }))
})
