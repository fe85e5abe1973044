import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { request as httpRequest } from "node:http"
import { sign } from "../src/pipeline/Signature.js"
import { intercomTopics } from "../src/pipeline/Topics.js"
import { loadFixtures } from "./support/Fixtures.js"
import { SECRET, TestServer } from "./support/TestServer.js"

const fixtures = loadFixtures()
const fixture = (topic: string) => fixtures.find((candidate) => candidate.topic === topic)!
/** The topic's first fixture under another topic string, with an id of its own so that dedupe lets it through. */
const withTopic = (topic: string, from = fixture(intercomTopics[topic] ?? "ping")) =>
  JSON.stringify({ ...(from.json as object), topic, id: `notif_alias_${topic}` })

/** Streams `body` with chunked transfer-encoding (no Content-Length) and resolves with the status. */
const postChunked = (url: string, body: Buffer, signature: string) =>
  Effect.async<number>((resume) => {
    const request = httpRequest(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature": signature, "transfer-encoding": "chunked" }
    }, (response) => {
      response.resume()
      resume(Effect.succeed(response.statusCode ?? 0))
    })
    request.on("error", () => undefined)
    let sent = 0
    const pump = () => {
      while (sent < body.length) {
        const chunk = body.subarray(sent, sent + 16 * 1024)
        sent += chunk.length
        if (!request.write(chunk)) return void request.once("drain", pump)
      }
      request.end()
    }
    pump()
  })

describe("the webhook endpoint", () => {
  layer(TestServer.layer({ INTERCOM_CLIENT_SECRET: `${SECRET},new-secret`, MAX_BODY_BYTES: "200000" }), {
    excludeTestServices: true
  })((it) => {
    it.effect("records a signed notification exactly as sent and answers 200 with what it did", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const sent = fixture("conversations.closed")
        const answer = yield* server.post(sent.bytes)
        assert.strictEqual(answer.status, 200)
        assert.deepStrictEqual(answer.json, {
          status: "accepted",
          topic: "conversations.closed",
          intercom_topic: (sent.json as { topic: string }).topic,
          id: (sent.json as { id: string }).id,
          sinks: ["file"],
          queued: []
        })
        const record = (yield* server.records()).find((line) => line.id === (sent.json as { id: string }).id)!
        assert.deepStrictEqual(record.payload, sent.json)
        assert.strictEqual(record.topic, "conversations.closed")
        assert.strictEqual(record.app_id, (sent.json as { app_id: string }).app_id)
        assert.strictEqual(new Date(record.received_at as string).toISOString(), record.received_at)
      }))

    it.effect("accepts every configured secret, so a secret can be rotated", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const body = fixture("ping").bytes
        const counted = (text: string, index: number) =>
          Number(
            new RegExp(`^\\w+signature_verified_total\\{secret_index="${index}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0
          )
        const before = (yield* server.request("/metrics")).text
        assert.strictEqual((yield* server.post(body, { secret: SECRET })).status, 200)
        assert.strictEqual((yield* server.post(body, { secret: "new-secret" })).status, 200)
        assert.strictEqual((yield* server.post(body, { secret: "new-secret" })).status, 200)
        assert.strictEqual((yield* server.post(body, { secret: "retired-secret" })).status, 401)
        const after = (yield* server.request("/metrics")).text
        assert.strictEqual(counted(after, 0) - counted(before, 0), 1, "verified by the first secret")
        assert.strictEqual(counted(after, 1) - counted(before, 1), 2, "verified by the second secret")
      }))

    it.effect("takes the signature's hex digits in either case", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const body = fixture("ping").bytes
        const upper = `sha1=${sign(SECRET, body).slice("sha1=".length).toUpperCase()}`
        assert.strictEqual((yield* server.post(body, { signature: upper })).status, 200)
      }))

    it.effect("answers 401 to a missing, malformed or wrong signature, never revealing the expected one", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const body = fixture("ping").bytes
        const expected = sign(SECRET, body)
        const missing = yield* server.post(body, { signature: null })
        assert.strictEqual(missing.status, 401)
        assert.strictEqual(missing.json.message, "missing X-Hub-Signature header")
        const malformed = yield* server.post(body, { signature: "sha256=abc" })
        assert.strictEqual(malformed.status, 401)
        assert.include(malformed.json.message, "sha1=<40 hex digits>")
        const wrong = yield* server.post(body, { secret: "someone-else" })
        assert.strictEqual(wrong.status, 401)
        assert.strictEqual(wrong.json.error, "invalid_signature")
        assert.strictEqual(wrong.json.message, "X-Hub-Signature does not match the body")
        for (const answer of [missing, malformed, wrong]) assert.notInclude(answer.text, expected.slice(5))
        for (const framed of [`x${expected}`, `${expected}0`, expected.slice(0, -1), `sha1=${expected}`]) {
          const answer = yield* server.post(body, { signature: framed })
          assert.strictEqual(answer.status, 401, framed)
          assert.include(answer.json.message, "sha1=<40 hex digits>", framed)
        }
        const failures = (yield* server.request("/metrics")).text
        for (const reason of ["missing", "malformed", "mismatch"]) {
          assert.match(failures, new RegExp(`signature_failures_total\\{reason="${reason}"\\} [1-9]`), reason)
        }
      }))

    it.effect("answers 400 to a signed body that is not JSON or not a notification", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const notJson = yield* server.post("{\"type\": ")
        assert.strictEqual(notJson.status, 400)
        assert.include(notJson.json.message, "body is not JSON")
        const notEnvelope = yield* server.post(JSON.stringify({ type: "notification_event", topic: "ping" }))
        assert.strictEqual(notEnvelope.status, 400)
        assert.include(notEnvelope.json.message, "data is missing")
        const array = yield* server.post("[1,2]")
        assert.strictEqual(array.status, 400)
        assert.include(array.json.message, "not an Intercom notification: the body must be a JSON object, got an array")
        for (const item of [null, [], "item"]) {
          const answer = yield* server.post(
            JSON.stringify({ type: "notification_event", topic: "ping", data: { item } })
          )
          assert.strictEqual(answer.status, 400, JSON.stringify(item))
          assert.include(answer.json.message, "data.item must be an object, got ", JSON.stringify(item))
        }
      }))

    it.effect("a numeric id is deduped as its string form; an app_id that is not a string is recorded as null", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const body = JSON.stringify({
          type: "notification_event",
          topic: "ticket.created",
          id: 4242,
          app_id: 7,
          data: { item: { type: "ticket" } }
        })
        const first = yield* server.post(body)
        assert.strictEqual(first.json.status, "accepted")
        assert.strictEqual(first.json.id, "4242")
        assert.strictEqual((yield* server.post(body)).json.status, "duplicate")
        const records = (yield* server.records()).filter((line) => (line.payload as { id: unknown }).id === 4242)
        assert.strictEqual(records.length, 1)
        assert.strictEqual(records[0]!.id, "4242")
        assert.isNull(records[0]!.app_id)
        const objectId = yield* server.post(JSON.stringify({ ...JSON.parse(body), id: { n: 1 } }))
        assert.strictEqual(objectId.status, 400)
        assert.include(objectId.json.message as string, "id must be a string, a number or null, got an object")
      }))

    it.effect("a numeric id is its source text: ids a double cannot tell apart stay two, 1e21 is not \"1e+21\"", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const withId = (id: string) =>
          `{"type":"notification_event","topic":"ticket.created","id":${id},"data":{"item":{"type":"ticket"}}}`
        const answers = []
        for (
          const id of ["12345678901234567890", "12345678901234567891", "1e21", "\"1e+21\"", "-0", "0", "1.50", "1.5"]
        ) {
          answers.push(yield* server.post(withId(id)))
        }
        assert.deepStrictEqual(answers.map((answer) => answer.json.status), Array(8).fill("accepted"))
        assert.deepStrictEqual(
          answers.map((answer) => answer.json.id),
          ["12345678901234567890", "12345678901234567891", "1e21", "1e+21", "-0", "0", "1.50", "1.5"]
        )
        assert.strictEqual((yield* server.post(withId("12345678901234567891"))).json.status, "duplicate")
        const spaced = `{ "id" : 12345678901234567890 , "type":"notification_event","topic":"ticket.created",` +
          `"data":{"item":{"type":"ticket","id":"12"}}}`
        assert.strictEqual((yield* server.post(spaced)).json.status, "duplicate", "the same text, however spaced")
      }))

    it.effect("a topic, id or app_id holding a NUL or an unpaired surrogate is refused with 400", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const base = { type: "notification_event", topic: "ticket.created", id: "t-ok", data: { item: {} } }
        for (
          const [field, value] of [
            ["id", "notif\\u0000x"],
            ["topic", "ticket.\\u0000"],
            ["app_id", "app\\u0000"],
            ["id", "notif\\ud800"],
            ["topic", "ticket.\\udc00x"]
          ]
        ) {
          const body = JSON.stringify({ ...base, [field!]: "PLACEHOLDER" }).replace("PLACEHOLDER", value!)
          const answer = yield* server.post(body)
          assert.strictEqual(answer.status, 400, body)
          assert.include(answer.json.message, `${field} holds a NUL character or an unpaired surrogate`)
        }
        const paired = yield* server.post(JSON.stringify({ ...base, id: "notif_\ud83d\ude00" }))
        assert.strictEqual(paired.json.status, "accepted", "a pair of surrogates is a character")
      }))

    it.effect("answers 413 to a body over MAX_BODY_BYTES, declared or streamed", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const big = Buffer.alloc(300_000, 0x20)
        const declared = yield* server.post(big)
        assert.strictEqual(declared.status, 413)
        assert.include(declared.json.message, "MAX_BODY_BYTES")
        assert.strictEqual(yield* postChunked(server.webhookUrl, Buffer.alloc(1_000_000, 0x20), sign(SECRET, big)), 413)
        assert.strictEqual((yield* server.post(fixture("ping").bytes)).status, 200, "still serving")
      }))

    it.effect("takes a body of exactly MAX_BODY_BYTES, declared or streamed, and refuses one byte more", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const padded = (size: number) => {
          const ping = fixture("ping").bytes
          return Buffer.concat([ping, Buffer.alloc(size - ping.length, 0x20)])
        }
        const exact = padded(200_000)
        assert.strictEqual((yield* server.post(exact)).status, 200)
        assert.strictEqual(yield* postChunked(server.webhookUrl, exact, sign(SECRET, exact)), 200)
        const over = padded(200_001)
        assert.strictEqual((yield* server.post(over)).status, 413)
        assert.strictEqual(yield* postChunked(server.webhookUrl, over, sign(SECRET, over)), 413)
      }))

    it.effect("answers 415 to a body that is not declared JSON", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const answer = yield* server.post(fixture("ping").bytes, { contentType: "text/plain" })
        assert.strictEqual(answer.status, 415)
        assert.strictEqual(
          (yield* server.post(fixture("ping").bytes, { contentType: "application/json; charset=utf-8" })).status,
          200
        )
      }))

    it.effect("answers HEAD with 200 (Intercom's URL check), other methods 405, other paths 404, /healthz 200", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        assert.strictEqual((yield* server.request(server.webhookUrl, { method: "HEAD" })).status, 200)
        const get = yield* server.request(server.webhookUrl)
        assert.strictEqual(get.status, 405)
        assert.strictEqual(get.headers.get("allow"), "POST, HEAD")
        assert.strictEqual((yield* server.request(server.webhookUrl, { method: "DELETE" })).status, 405)
        assert.strictEqual((yield* server.request("/elsewhere")).status, 404)
        assert.strictEqual((yield* server.request("/healthz")).status, 200)
      }))

    it.effect("routes every Intercom topic string to its canonical topic", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        for (const [intercomTopic, canonical] of Object.entries(intercomTopics)) {
          const answer = yield* server.post(withTopic(intercomTopic))
          assert.strictEqual(answer.status, 200, intercomTopic)
          assert.strictEqual(answer.json.topic, canonical, intercomTopic)
          assert.strictEqual(answer.json.intercom_topic, intercomTopic)
          assert.strictEqual(answer.json.status, "accepted", intercomTopic)
        }
      }))

    it.effect("accepts topics it has no schema for, recording them with topic null", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const body = JSON.stringify({
          type: "notification_event",
          topic: "ticket.created",
          id: "notif_ticket_1",
          data: { item: { type: "ticket", id: "77", ticket_attributes: { _default_title_: "Printer on fire" } } }
        })
        const answer = yield* server.post(body)
        assert.strictEqual(answer.status, 200)
        assert.strictEqual(answer.json.topic, null)
        const record = (yield* server.records()).find((line) => line.id === "notif_ticket_1")!
        assert.strictEqual(record.topic, null)
        assert.strictEqual(record.intercom_topic, "ticket.created")
        assert.deepStrictEqual(record.payload, JSON.parse(body))
      }))

    it.effect("delivers a known topic whose item fails its schema, marked as a mismatch, and dead-letters nothing", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const body = JSON.stringify({
          type: "notification_event",
          topic: "contact.user.created",
          id: "notif_bad_item",
          data: { item: { type: "contact", id: 12345 } }
        })
        const answer = yield* server.post(body)
        assert.strictEqual(answer.status, 200)
        assert.strictEqual(answer.json.status, "accepted")
        assert.strictEqual(answer.json.schema, "mismatch")
        assert.match(answer.json.schema_error as string, /^data\.item\.id: /)
        assert.deepStrictEqual(answer.json.sinks, ["file"])
        const record = (yield* server.records()).find((line) => line.id === "notif_bad_item")!
        assert.strictEqual(record.topic, "contacts.created")
        assert.strictEqual(record.schema, "mismatch")
        assert.strictEqual(record.schema_error, answer.json.schema_error)
        assert.notInclude(record.schema_error as string, "\n")
        assert.deepStrictEqual(record.payload, JSON.parse(body))
        assert.isUndefined((yield* server.records("dead-letter.jsonl")).find((line) => line.id === "notif_bad_item"))
      }))

    it.effect("a kind's type that no string conversion can read is a mismatch delivered, never a 500", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const body = `{"type":"notification_event","topic":"contact.deleted","id":"notif_to_string",`
          + `"data":{"item":{"type":{"toString":0},"id":"1"}}}`
        const answer = yield* server.post(body)
        assert.strictEqual(answer.status, 200)
        assert.strictEqual(answer.json.schema, "mismatch")
        const record = (yield* server.records()).find((line) => line.id === "notif_to_string")!
        assert.strictEqual(record.topic, "contacts.deleted")
        assert.deepStrictEqual(record.payload, JSON.parse(body))
      }))

    it.effect("a notification that matches its schema carries no schema marker", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const sent = fixture("contacts.deleted")
        const answer = yield* server.post(sent.bytes)
        assert.strictEqual(answer.json.status, "accepted")
        assert.notProperty(answer.json, "schema")
        const record = (yield* server.records()).find((line) => line.id === (sent.json as { id: string }).id)!
        assert.notProperty(record, "schema")
      }))
  })
})
