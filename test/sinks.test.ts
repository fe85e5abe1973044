import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { createHmac } from "node:crypto"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { handlers as exampleHandlers } from "../src/examples/handlers.js"
import { type CanonicalTopic, type ContactsCreatedNotification } from "../src/generated/index.js"
import { Handlers } from "../src/sinks/Handlers.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { startTarget } from "./support/Target.js"
import { startServer } from "./support/TestServer.js"

const fixtures = loadFixtures()
const fixture = (topic: string, file?: string) =>
  fixtures.find((candidate) => candidate.topic === topic && (file === undefined || candidate.file === file))!
const idOf = (json: unknown) => (json as { id: string | null }).id

describe("sinks", () => {
  it.scopedLive("http: forwards the exact bytes with topic headers and a Standard Webhooks signature", () =>
    Effect.gen(function*() {
      const target = yield* startTarget()
      const key = Buffer.from("forward-signing-key")
      const server = yield* startServer({
        SINKS: "http",
        HTTP_FORWARD_URL: target.url,
        FORWARD_SIGNING_SECRET: `whsec_${key.toString("base64")}`
      })
      const sent = fixture("contacts.created")
      const answer = yield* server.post(sent.bytes)
      assert.strictEqual(answer.status, 200)
      assert.deepStrictEqual(answer.json.queued, ["http"])
      yield* eventually("the forward", Effect.sync(() => target.requests.length), (n) => n === 1)
      const { body, headers } = target.requests[0]!
      assert.isTrue(body.equals(sent.bytes), "body byte-identical")
      assert.strictEqual(headers["content-type"], "application/json")
      assert.strictEqual(headers["x-intercom-topic"], (sent.json as { topic: string }).topic)
      assert.strictEqual(headers["x-webhook-topic"], "contacts.created")
      assert.strictEqual(headers["x-notification-id"], idOf(sent.json))
      assert.strictEqual(headers["webhook-id"], idOf(sent.json))
      const timestamp = Number(headers["webhook-timestamp"])
      assert.approximately(timestamp, Date.now() / 1000, 60)
      const expected = createHmac("sha256", key).update(`${headers["webhook-id"]}.${timestamp}.${body.toString()}`)
        .digest("base64")
      assert.strictEqual(headers["webhook-signature"], `v1,${expected}`)
    }))

  it.scopedLive("http: without a signing secret, no Standard Webhooks headers", () =>
    Effect.gen(function*() {
      const target = yield* startTarget()
      const server = yield* startServer({ SINKS: "http", HTTP_FORWARD_URL: target.url })
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      yield* eventually("the forward", Effect.sync(() => target.requests.length), (n) => n === 1)
      assert.isUndefined(target.requests[0]!.headers["webhook-signature"])
      assert.isUndefined(target.requests[0]!.headers["x-notification-id"], "ping has no id")
    }))

  it.scopedLive("http: the URL's user and password go as Basic authentication, its query string as sent", () =>
    Effect.gen(function*() {
      const target = yield* startTarget()
      const url = new URL(target.url)
      url.username = "hook%20user"
      url.password = "p%40ss:word"
      url.search = "?tenant=a%2Fb&x=1"
      const server = yield* startServer({ SINKS: "http", HTTP_FORWARD_URL: url.toString() })
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      yield* eventually("the forward", Effect.sync(() => target.requests.length), (n) => n === 1)
      const sent = target.requests[0]!.headers.authorization!
      assert.strictEqual(Buffer.from(sent.replace(/^Basic /, ""), "base64").toString(), "hook user:p@ss:word")
      assert.strictEqual(target.requests[0]!.url, "/hooks?tenant=a%2Fb&x=1")
    }))

  it.scopedLive("console: prints one JSON record per notification, the same record as the file sink", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ SINKS: "console,file" })
      const sent = fixture("contacts.deleted")
      assert.strictEqual((yield* server.post(sent.bytes)).status, 200)
      assert.strictEqual(server.consoleLines.length, 1)
      const printed = JSON.parse(server.consoleLines[0]!)
      assert.deepStrictEqual(printed.payload, sent.json)
      const [recorded] = yield* server.records()
      assert.deepStrictEqual({ ...printed, received_at: null }, { ...recorded, received_at: null })
    }))

  it.scopedLive("console: CONSOLE_FORMAT=pretty prints an indented form to read", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ SINKS: "console", CONSOLE_FORMAT: "pretty" })
      assert.strictEqual((yield* server.post(fixture("ping", "ping.json").bytes)).status, 200)
      const [printed] = server.consoleLines
      assert.match(printed!, /^\S+ ping <- ping\n {2}id: - {2}app: q8f3kz1m\n/)
      assert.include(printed!, `    "type": "notification_event",`)
    }))

  it.scopedLive("handlers: a typed handler receives the value decoded by its topic's schema", () =>
    Effect.gen(function*() {
      const seen: Array<ContactsCreatedNotification> = []
      const handlers = Handlers.layer({
        "contacts.created": (notification) => Effect.sync(() => seen.push(notification))
      })
      const server = yield* startServer({ SINKS: "file" }, handlers)
      const sent = fixture("contacts.created")
      const answer = yield* server.post(sent.bytes)
      assert.deepStrictEqual(answer.json.sinks, ["file", "handlers"])
      assert.deepStrictEqual(answer.json.queued, ["handlers"])
      yield* eventually("the handler", Effect.sync(() => seen.length), (n) => n === 1)
      assert.deepStrictEqual(seen[0], sent.json)
      assert.include(["contact", "user"], seen[0]!.data.item.type)
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200, "no handler: nothing to do")
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      assert.strictEqual(seen.length, 1)
    }))

  it.scopedLive("a schema mismatch reaches every byte sink, marked; only the typed handlers get a dead letter", () =>
    Effect.gen(function*() {
      const target = yield* startTarget()
      const seen: Array<unknown> = []
      const handlers = Handlers.layer({
        "contacts.created": (notification) => Effect.sync(() => seen.push(notification))
      })
      const server = yield* startServer({ SINKS: "file,http", HTTP_FORWARD_URL: target.url }, handlers)
      const body = JSON.stringify({
        type: "notification_event",
        topic: "contact.lead.created",
        id: "notif_mismatch",
        data: { item: { type: "contact", id: "c1", email: ["not", "a", "string"] } }
      })
      const answer = yield* server.post(body)
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.json.status, "accepted")
      assert.strictEqual(answer.json.schema, "mismatch")
      assert.deepStrictEqual(answer.json.queued, ["http", "handlers"])

      const [record] = yield* server.records()
      assert.strictEqual(record!.schema, "mismatch")
      assert.deepStrictEqual(record!.payload, JSON.parse(body))
      yield* eventually("the forward", Effect.sync(() => target.requests.length), (n) => n === 1)
      assert.strictEqual(target.requests[0]!.body.toString(), body)
      assert.strictEqual(target.requests[0]!.headers["x-webhook-schema"], "mismatch")

      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      assert.strictEqual(seen.length, 0, "the handler never sees a value its type does not describe")
      const dead = yield* server.records("dead-letter.jsonl")
      assert.strictEqual(dead.length, 1)
      assert.strictEqual(dead[0]!.sink, "handlers")
      assert.strictEqual(dead[0]!.reason, "schema_mismatch")
      assert.strictEqual(dead[0]!.error, answer.json.schema_error)
      assert.deepStrictEqual(dead[0]!.payload, JSON.parse(body))
    }))

  it.scopedLive("handlers: the decoded value keeps fields no fixture shows, at the top and inside data.item", () =>
    Effect.gen(function*() {
      const seen: Array<ContactsCreatedNotification> = []
      const handlers = Handlers.layer({
        "contacts.created": (notification) => Effect.sync(() => seen.push(notification))
      })
      const server = yield* startServer({ SINKS: "file" }, handlers)
      const original = fixture("contacts.created").json as ContactsCreatedNotification
      const sent = {
        ...original,
        x_future_field: { nested: [1, "two"] },
        data: { ...original.data, item: { ...original.data.item, x_future_item_field: "kept" } }
      }
      assert.strictEqual((yield* server.post(JSON.stringify(sent))).status, 200)
      yield* eventually("the handler", Effect.sync(() => seen.length), (n) => n === 1)
      const decoded = seen[0] as unknown as typeof sent
      assert.deepStrictEqual(decoded.x_future_field, { nested: [1, "two"] })
      assert.strictEqual(decoded.data.item.x_future_item_field, "kept")
      assert.deepStrictEqual(decoded, sent)
    }))

  it.scopedLive("handlers: the README's example handlers run", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ SINKS: "file" }, Handlers.layer(exampleHandlers))
      for (const topic of ["contacts.created", "conversations.closed"] as const) {
        const answer = yield* server.post(fixture(topic).bytes)
        assert.strictEqual(answer.status, 200)
        assert.deepStrictEqual(answer.json.sinks, ["file", "handlers"])
      }
    }))

  it.scopedLive("handlers: a failing handler is retried with backoff until it succeeds", () =>
    Effect.gen(function*() {
      let calls = 0
      const handlers = Handlers.layer({
        ping: () => ++calls < 3 ? Effect.fail("downstream is down") : Effect.void
      })
      const server = yield* startServer({ SINKS: "file", RETRY_BASE_DELAY: "10ms", RETRY_MAX_DELAY: "20ms" }, handlers)
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      assert.strictEqual(calls, 3)
    }))

  it.scopedLive("ROUTES: the most specific rule wins; a topic no rule matches becomes a dead letter", () =>
    Effect.gen(function*() {
      const server = yield* startServer({
        SINKS: "console,file",
        ROUTES: "contacts.*=file;contacts.deleted=console;ping=console,file;ticket.*=file"
      })
      const send = (topic: CanonicalTopic) => server.post(fixture(topic).bytes).pipe(Effect.map((a) => a.json.sinks))
      assert.deepStrictEqual(yield* send("contacts.created"), ["file"])
      assert.deepStrictEqual(yield* send("contacts.deleted"), ["console"])
      assert.deepStrictEqual(yield* send("ping"), ["console", "file"])
      const ticket = JSON.stringify({ type: "notification_event", topic: "ticket.created", data: { item: {} } })
      assert.deepStrictEqual((yield* server.post(ticket)).json.sinks, ["file"])

      const closed = yield* server.post(fixture("conversations.closed").bytes)
      assert.strictEqual(closed.status, 200)
      assert.strictEqual(closed.json.reason, "no_route")
      const dead = yield* server.records("dead-letter.jsonl")
      assert.strictEqual(dead.length, 1)
      assert.strictEqual(dead[0]!.reason, "no_route")
      assert.strictEqual(dead[0]!.id, idOf(fixture("conversations.closed").json))
    }))

  it.scopedLive("ROUTES naming handlers in a program without typed handlers stops the start, saying what to add", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(startServer({ SINKS: "file", ROUTES: "ping=file,handlers" })))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.include(
          Cause.pretty(exit.cause),
          "ROUTES sends ping to handlers, which this program does not run (typed handlers need Handlers.layer, see README)"
        )
      }
    }))

  it.scopedLive("file: concurrent notifications all land, one whole line each", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ SINKS: "file" })
      const sent = fixtures.slice(0, 20)
      const answers = yield* Effect.forEach(sent, (fixture) => server.post(fixture.bytes), { concurrency: "unbounded" })
      assert.deepStrictEqual(answers.map((answer) => answer.status), sent.map(() => 200))
      const records = yield* server.records()
      assert.strictEqual(records.length, sent.length)
      assert.sameDeepMembers(records.map((record) => record.payload), sent.map((fixture) => fixture.json))
    }))

  it.scopedLive("file: a line cut off by a crash is dropped at start, so the file stays one JSON record per line", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "torn-"))
      writeFileSync(join(dataDir, "events.jsonl"), "{\"id\":\"whole\"}\n{\"id\":\"tor")
      const server = yield* startServer({ SINKS: "file", DATA_DIR: dataDir })
      assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
      const lines = readFileSync(join(dataDir, "events.jsonl"), "utf8").split("\n")
      assert.strictEqual(lines.length, 3)
      assert.deepStrictEqual(JSON.parse(lines[0]!), { id: "whole" })
      assert.strictEqual(JSON.parse(lines[1]!).topic, "ping")
      assert.strictEqual(lines[2], "")
    }))

  it.scopedLive("file: a cut-off line longer than the read-back chunk, or a file of no whole line, is dropped too", () =>
    Effect.gen(function*() {
      const cases = [
        { before: `{"id":"whole"}\n${"x".repeat(150_000)}`, kept: ["{\"id\":\"whole\"}"] },
        { before: "y".repeat(70_000), kept: [] },
        { before: `{"id":"a"}\n{"id":"b"}\n`, kept: ["{\"id\":\"a\"}", "{\"id\":\"b\"}"] }
      ]
      for (const { before, kept } of cases) {
        const dataDir = mkdtempSync(join(tmpdir(), "torn-"))
        writeFileSync(join(dataDir, "events.jsonl"), before)
        yield* Effect.scoped(Effect.gen(function*() {
          const server = yield* startServer({ SINKS: "file", DATA_DIR: dataDir })
          assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200)
        }))
        const lines = readFileSync(join(dataDir, "events.jsonl"), "utf8").split("\n")
        assert.deepStrictEqual(lines.slice(0, -2), kept)
        assert.strictEqual(JSON.parse(lines.at(-2)!).topic, "ping")
        assert.strictEqual(lines.at(-1), "")
      }
    }))
})
