import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { type CanonicalTopic, canonicalTopics, topicSchemas } from "../src/generated/index.js"
import { loadFixtures } from "./support/Fixtures.js"

const fixtures = loadFixtures()

describe("fixtures", () => {
  it("cover every canonical topic with at least five samples (two for ping), and nothing else", () => {
    const topics = [...new Set(fixtures.map((fixture) => fixture.topic))]
    assert.deepStrictEqual(topics, [...canonicalTopics])
    for (const topic of topics) {
      assert.isAtLeast(fixtures.filter((fixture) => fixture.topic === topic).length, topic === "ping" ? 2 : 5, topic)
    }
  })

  for (const fixture of fixtures) {
    it(`${fixture.topic}/${fixture.file} decodes with its schema and keeps every field`, () => {
      const schema = topicSchemas[fixture.topic as CanonicalTopic] as Schema.Schema<unknown, unknown>
      const decoded = Schema.decodeUnknownEither(schema)(fixture.json)
      assert.isTrue(Either.isRight(decoded), Either.isLeft(decoded) ? String(decoded.left) : "")
      assert.deepStrictEqual(Either.getOrThrow(decoded), fixture.json)
    })
  }

  it("an object of a known kind must match that kind's schema: it never passes as OtherKind", () => {
    const closed = fixtures.find((fixture) => fixture.topic === "conversations.closed")!
    const item = (closed.json as { data: { item: Record<string, unknown> } }).data.item
    const broken = { ...(closed.json as object), data: { item: { ...item, open: "not a boolean" } } }
    assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(topicSchemas["conversations.closed"])(broken)))
  })

  it("an object of a kind never seen at its place decodes as OtherKind, every field kept", () => {
    const closed = fixtures.find((fixture) => fixture.topic === "conversations.closed")!
    const item = { type: "conversation_v3", id: "1", anything: { nested: [1, null] } }
    const changed = { ...(closed.json as object), data: { item } }
    const decoded = Schema.decodeUnknownEither(topicSchemas["conversations.closed"])(changed)
    assert.deepStrictEqual(Either.getOrThrow(decoded) as unknown, changed)
  })
})
