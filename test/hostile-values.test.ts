import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck } from "effect"
import { createHash, createHmac } from "node:crypto"
import type { Notification } from "../src/pipeline/Notification.js"
import { MAX_ROUTING_LENGTH, routingTopic } from "../src/sinks/Broker.js"
import { dedupeId, headerValue, MAX_HEADER_LENGTH } from "../src/sinks/HeaderValue.js"
import { eventually } from "./support/Eventually.js"
import { hostile, notification } from "./support/HostileValues.js"
import { startTarget } from "./support/Target.js"
import { startServer } from "./support/TestServer.js"

const routed = (intercomTopic: string) => routingTopic({ topic: null, intercomTopic } as Notification)
const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex")
const anyText = FastCheck.string({ unit: "binary", maxLength: 250 })

describe("header values", () => {
  it("visible ASCII without % is sent as it is; any other byte of the UTF-8 is %XX", () => {
    assert.strictEqual(headerValue("conversation.admin.closed"), "conversation.admin.closed")
    assert.strictEqual(headerValue("notif_\"quoted\";,\\"), "notif_\"quoted\";,\\")
    assert.strictEqual(headerValue(""), "")
    assert.strictEqual(headerValue("a b"), "a%20b")
    assert.strictEqual(headerValue("tab\there"), "tab%09here")
    assert.strictEqual(headerValue("\u007f"), "%7F")
    assert.strictEqual(headerValue("😀"), "%F0%9F%98%80")
    // A lone surrogate (JSON can escape one) is not Unicode: written as U+FFFD, as UTF-8 does.
    assert.strictEqual(headerValue("x\ud800"), "x%EF%BF%BD")
    for (const value of hostile) {
      assert.strictEqual(headerValue(value.topic), value.header.topic)
      assert.strictEqual(headerValue(value.id), value.header.id)
    }
  })

  it("a value longer than MAX_HEADER_LENGTH once encoded is left out", () => {
    assert.strictEqual(headerValue("x".repeat(MAX_HEADER_LENGTH)), "x".repeat(MAX_HEADER_LENGTH))
    assert.isUndefined(headerValue("x".repeat(MAX_HEADER_LENGTH + 1)))
    assert.isUndefined(headerValue("€".repeat(228)), "228 × 9 characters encoded")
    assert.strictEqual(headerValue("€".repeat(227)), "%E2%82%AC".repeat(227))
  })

  it.prop("percent-decoding a header gives the value back; the header is visible ASCII", [
    FastCheck.string({ unit: "grapheme", maxLength: 200 })
  ], ([value]) => {
    const header = headerValue(value)!
    assert.match(header, /^[\x21-\x7e]*$/)
    assert.strictEqual(decodeURIComponent(header), value)
  })

  it("a dedupe id is the id when it is 1-200 visible ASCII characters without %, else sha256:<hex>", () => {
    assert.strictEqual(dedupeId("notif_3f9a"), "notif_3f9a")
    assert.strictEqual(dedupeId("x".repeat(200)), "x".repeat(200))
    assert.strictEqual(dedupeId("x".repeat(201)), `sha256:${sha256("x".repeat(201))}`)
    assert.strictEqual(dedupeId(""), `sha256:${sha256("")}`)
    for (const value of hostile) assert.strictEqual(dedupeId(value.id), value.dedupe)
  })

  it.prop("a dedupe id fits an AMQP message_id and is the same for the same id", [anyText], ([id]) => {
    const derived = dedupeId(id)
    assert.isAtMost(Buffer.byteLength(derived), 255)
    assert.match(derived, /^[\x21-\x7e]+$/)
    assert.strictEqual(dedupeId(id), derived)
  })

  it("routing topics: the canonical topic, or the topic string written valid and cut to 200 characters", () => {
    assert.strictEqual(routingTopic({ topic: "contacts.created" } as Notification), "contacts.created")
    for (const value of hostile) assert.strictEqual(routed(value.topic), value.route)
    assert.strictEqual(routed("x".repeat(200)), "x".repeat(200))
    assert.strictEqual(routed("x".repeat(201)), `${"x".repeat(183)}_${sha256("x".repeat(201)).slice(0, 16)}`)
  })

  it.prop("any topic string routes to a valid subject and routing key", [anyText], ([topic]) => {
    const route = routed(topic)
    assert.isAtMost(route.length, MAX_ROUTING_LENGTH)
    assert.match(route, /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/)
  })
})

describe("http sink", () => {
  it.scopedLive("topics and ids no header can carry as they are: sent encoded as docs/sinks.md says, bodies unchanged", () =>
    Effect.gen(function*() {
      const target = yield* startTarget()
      const key = Buffer.from("forward-signing-key")
      const server = yield* startServer({
        SINKS: "http",
        HTTP_FORWARD_URL: target.url,
        FORWARD_SIGNING_SECRET: `whsec_${key.toString("base64")}`,
        RETRY_BASE_DELAY: "20ms",
        RETRY_MAX_DELAY: "200ms",
        PROBE_INTERVAL: "200ms"
      })
      const strange = hostile.map((value) => ({ ...value, bytes: notification(value.topic, value.id) }))
      const clean = Array.from({ length: 5 }, (_, n) => notification("ticket.created", `notif_clean_${n}`))
      for (const bytes of [...strange.map((value) => value.bytes), ...clean]) {
        assert.strictEqual((yield* server.post(bytes)).status, 200)
      }
      yield* eventually("the outbox to drain", server.outboxDepth, (n) => n === 0)
      assert.deepStrictEqual(yield* server.records("dead-letter.jsonl"), [])
      assert.strictEqual(target.requests.length, strange.length + clean.length)

      const verified = (headers: Record<string, unknown>, body: Buffer) => {
        const signed = `${headers["webhook-id"]}.${headers["webhook-timestamp"]}.`
        const expected = createHmac("sha256", key).update(signed).update(body).digest("base64")
        assert.strictEqual(headers["webhook-signature"], `v1,${expected}`)
      }
      for (const expected of strange) {
        const request = target.requests.find((candidate) => candidate.body.equals(expected.bytes))
        assert.isDefined(request, `the bytes posted for ${JSON.stringify(expected.id)}`)
        assert.strictEqual(request!.headers["x-intercom-topic"], expected.header.topic)
        assert.strictEqual(request!.headers["x-notification-id"], expected.header.id)
        assert.isUndefined(request!.headers["x-webhook-topic"])
        assert.strictEqual(request!.headers["webhook-id"], expected.dedupe)
        verified(request!.headers, request!.body)
      }
      for (const [n, bytes] of clean.entries()) {
        const request = target.requests.find((candidate) => candidate.body.equals(bytes))
        assert.isDefined(request, `clean notification ${n}`)
        assert.strictEqual(request!.headers["x-notification-id"], `notif_clean_${n}`)
        assert.strictEqual(request!.headers["webhook-id"], `notif_clean_${n}`)
        verified(request!.headers, request!.body)
      }
    }))
})
