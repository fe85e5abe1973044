import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { canonicalTopic } from "../src/pipeline/Topics.js"
import { TestServer } from "./support/TestServer.js"

/**
 * Intercom's topic strings and the canonical topic each must map to, written out from Intercom's topic list (current
 * API 2.5+ names, then legacy 1.x-2.4 names; /work/shared/intercom-webhooks.md), not from the table under test.
 */
const expected: ReadonlyArray<readonly [string, string]> = [
  ["contact.user.created", "contacts.created"],
  ["contact.lead.created", "contacts.created"],
  ["contact.deleted", "contacts.deleted"],
  ["contact.user.tag.created", "contacts.tagCreated"],
  ["contact.lead.tag.created", "contacts.tagCreated"],
  ["conversation.admin.assigned", "conversations.assigned"],
  ["conversation.admin.open.assigned", "conversations.assigned"],
  ["conversation.admin.closed", "conversations.closed"],
  ["conversation.user.created", "conversations.created"],
  ["conversation.admin.single.created", "conversations.created"],
  ["ping", "ping"],
  ["user.created", "contacts.created"],
  ["contact.created", "contacts.created"],
  ["user.deleted", "contacts.deleted"],
  ["user.tag.created", "contacts.tagCreated"],
  ["contact.tag.created", "contacts.tagCreated"]
]

/** Strings some pages use that are not Intercom topics, and real topics this service has no schema for. */
const unmapped = [
  "conversation.closed",
  "conversation.created",
  "contact.user.deleted",
  "conversation.admin.created",
  "conversation.user.replied",
  "conversation.admin.replied",
  "ticket.created",
  "company.created",
  "contact.lead.signed_up",
  "Ping",
  "ping ",
  "constructor",
  "__proto__",
  "toString"
]

describe("Intercom topic strings", () => {
  it("each real topic maps to its canonical topic", () => {
    for (const [topic, canonical] of expected) assert.strictEqual(canonicalTopic(topic), canonical, topic)
  })

  it("strings that are not those topics map to none", () => {
    for (const topic of unmapped) assert.isNull(canonicalTopic(topic), topic)
  })

  layer(TestServer.layer({ SINKS: "file" }), { excludeTestServices: true })((it) => {
    it.effect("the service answers each with its canonical topic, and an unmapped one with none", () =>
      Effect.gen(function*() {
        const server = yield* TestServer
        const post = (topic: string, n: number) =>
          server.post(JSON.stringify({
            type: "notification_event",
            topic,
            id: `notif_topic_${n}_${Date.now()}`,
            data: { item: { type: "x", id: String(n) } }
          }))
        for (const [n, [topic, canonical]] of expected.entries()) {
          const answer = yield* post(topic, n)
          assert.strictEqual(answer.status, 200, topic)
          assert.strictEqual(answer.json.topic, canonical, topic)
          assert.strictEqual(answer.json.intercom_topic, topic)
        }
        for (const [n, topic] of unmapped.entries()) {
          const answer = yield* post(topic, 100 + n)
          assert.strictEqual(answer.status, 200, topic)
          assert.isNull(answer.json.topic, topic)
        }
      }))
  })
})
