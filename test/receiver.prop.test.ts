import { assert, describe, layer } from "@effect/vitest"
import { Effect, FastCheck, Schema } from "effect"
import { canonicalTopics, topicSchemas } from "../src/generated/index.js"
import { sign } from "../src/pipeline/Signature.js"
import { intercomTopics } from "../src/pipeline/Topics.js"
import { loadFixtures } from "./support/Fixtures.js"
import { SECRET, TestServer } from "./support/TestServer.js"

const aliasesOf = (topic: string) => Object.keys(intercomTopics).filter((alias) => intercomTopics[alias] === topic)

const fixture = loadFixtures().find((candidate) => candidate.topic === "conversations.closed")!

let sequence = 0
const uniqueId = () => `notif_prop_${++sequence}_${Date.now()}`

describe("the receiver (properties)", () => {
  layer(TestServer.layer({ SINKS: "file" }), { excludeTestServices: true })((it) => {
    for (const topic of canonicalTopics) {
      const schema = topicSchemas[topic] as unknown as Schema.Schema<Record<string, unknown>>
      const encode = Schema.encodeSync(schema)

      it.effect.prop(
        `any ${topic} notification signed with the secret is answered 200 and recorded as sent`,
        [schema, FastCheck.constantFrom(...aliasesOf(topic))],
        ([notification, intercomTopic]) =>
          Effect.gen(function*() {
            const server = yield* TestServer
            const id = uniqueId()
            const body = JSON.stringify({ ...encode(notification), topic: intercomTopic, id })
            const answer = yield* server.post(body)
            assert.strictEqual(answer.status, 200, answer.text)
            assert.strictEqual(answer.json.status, "accepted")
            const record = (yield* server.records()).find((line) => line.id === id)
            assert.deepStrictEqual(record?.payload, JSON.parse(body))
            assert.strictEqual(record?.topic, topic)
          }),
        { fastCheck: { numRuns: 15 } }
      )
    }

    it.effect.prop(
      "flipping any one byte of a signed body gives 401 and records nothing",
      [topicSchemas["conversations.closed"], FastCheck.nat(), FastCheck.integer({ min: 1, max: 255 })],
      ([notification, position, mask]) =>
        Effect.gen(function*() {
          const server = yield* TestServer
          const id = uniqueId()
          const encoded = Schema.encodeSync(topicSchemas["conversations.closed"])(notification)
          const body = Buffer.from(JSON.stringify({ ...encoded, id }))
          const signature = sign(SECRET, body)
          const flipped = Buffer.from(body)
          const at = position % flipped.length
          flipped[at] = flipped[at]! ^ mask
          const before = (yield* server.records()).length
          const answer = yield* server.post(flipped, { signature })
          assert.strictEqual(answer.status, 401)
          assert.strictEqual((yield* server.records()).length, before)
        }),
      { fastCheck: { numRuns: 100 } }
    )

    it.effect.prop(
      "a signature wrong in any one hex digit, the others right, gives 401 and records nothing",
      [FastCheck.integer({ min: 0, max: 39 }), FastCheck.integer({ min: 1, max: 15 }), FastCheck.boolean()],
      ([position, delta, upper]) =>
        Effect.gen(function*() {
          const server = yield* TestServer
          const body = Buffer.from(JSON.stringify({ ...(fixture.json as object), id: uniqueId() }))
          const digits = sign(SECRET, body).slice("sha1=".length).split("")
          digits[position] = ((parseInt(digits[position]!, 16) + delta) % 16).toString(16)
          const forged = `sha1=${upper ? digits.join("").toUpperCase() : digits.join("")}`
          const before = (yield* server.records()).length
          const answer = yield* server.post(body, { signature: forged })
          assert.strictEqual(answer.status, 401, `${forged} differs at ${position}`)
          assert.strictEqual(answer.json.error, "invalid_signature")
          assert.strictEqual((yield* server.records()).length, before)
        }),
      { fastCheck: { numRuns: 120 } }
    )
  })
})
