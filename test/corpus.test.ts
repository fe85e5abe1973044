import { assert, describe, layer } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { type CanonicalTopic, canonicalTopics, topicSchemas } from "../src/generated/index.js"
import { canonicalTopic } from "../src/pipeline/Topics.js"
import { corpusDir, loadFixtures } from "./support/Fixtures.js"
import { TestServer } from "./support/TestServer.js"

/** Realistic notifications written apart from schemas/fixtures: the generator never reads them. */
const corpus = loadFixtures(corpusDir)
const fixtures = loadFixtures()
const idOf = (json: unknown) => (json as { id?: unknown }).id

describe("the realism corpus (test/corpus, never read by the generator)", () => {
  layer(TestServer.layer({ SINKS: "file" }), { excludeTestServices: true })((it) => {
    it.effect("holds at least 30 notifications of every canonical topic, none of them a fixture", () =>
      Effect.sync(() => {
        assert.isAtLeast(corpus.length, 30)
        assert.deepStrictEqual([...new Set(corpus.map((file) => file.topic))], [...canonicalTopics])
        const fixtureIds = new Set<unknown>(fixtures.map((fixture) => idOf(fixture.json)).filter((id) => id !== null))
        const fixtureBodies = new Set(fixtures.map((fixture) => fixture.bytes.toString("utf8")))
        for (const file of corpus) {
          assert.isFalse(fixtureIds.has(idOf(file.json)), `${file.topic}/${file.file} reuses a fixture's id`)
          assert.isFalse(fixtureBodies.has(file.bytes.toString("utf8")), `${file.topic}/${file.file} is a fixture`)
        }
      }))

    for (const file of corpus) {
      it.effect(`${file.topic}/${file.file}: accepted, matching its schema, and recorded unchanged`, () =>
        Effect.gen(function*() {
          const server = yield* TestServer
          const intercomTopic = (file.json as { topic: string }).topic
          assert.strictEqual(canonicalTopic(intercomTopic), file.topic, "filed under its canonical topic")

          const decoded = Schema.decodeUnknownEither(
            topicSchemas[file.topic as CanonicalTopic] as Schema.Schema<unknown, unknown>
          )(file.json)
          if (Either.isLeft(decoded)) assert.fail(String(decoded.left))
          assert.deepStrictEqual(decoded.right, file.json, "decoding keeps every field")

          const answer = yield* server.post(file.bytes)
          assert.strictEqual(answer.status, 200, answer.text)
          assert.strictEqual(answer.json.status, "accepted", answer.text)
          assert.strictEqual(answer.json.topic, file.topic)
          assert.notProperty(answer.json, "schema", "not merely delivered as a mismatch")
          const records = (yield* server.records()).filter((record) =>
            JSON.stringify(record.payload) === JSON.stringify(file.json)
          )
          assert.strictEqual(records.length, 1)
          assert.strictEqual(records[0]!.topic, file.topic)
          assert.strictEqual(records[0]!.intercom_topic, intercomTopic)
          assert.notProperty(records[0]!, "schema")
        }))
    }
  })
})
