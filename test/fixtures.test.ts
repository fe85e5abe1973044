import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { type CanonicalTopic, canonicalTopics, topicSchemas } from "../src/generated/index.js"
import { loadFixtures } from "./support/Fixtures.js"

const fixtures = loadFixtures()

describe("fixtures", () => {
  it("cover every canonical topic with at least two samples, and nothing else", () => {
    const topics = [...new Set(fixtures.map((fixture) => fixture.topic))]
    assert.deepStrictEqual(topics, [...canonicalTopics])
    for (const topic of topics) {
      assert.isAtLeast(fixtures.filter((fixture) => fixture.topic === topic).length, topic === "ping" ? 2 : 3, topic)
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

  it("a notification of one topic does not decode as another whose item kind differs", () => {
    const ping = fixtures.find((fixture) => fixture.topic === "ping")!
    assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(topicSchemas["conversations.closed"])(ping.json)))
  })
})
