import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck, Schema } from "effect"
import { type CanonicalTopic, topicSchemas } from "../src/generated/index.js"
import { loadFixtures } from "./support/Fixtures.js"
import { type Json, type Novelty, positions, type VariationKind, variationKinds, vary } from "./support/Variations.js"

const fixtures = loadFixtures()

/** Decodes under the topic's notification schema, with the schema's own parse options (unknown fields kept). */
const decode = (topic: string, value: Json) =>
  Schema.decodeUnknownEither(topicSchemas[topic as CanonicalTopic] as Schema.Schema<unknown, unknown>)(value)

const decodesKeepingEverything = (topic: string, value: Json, label: string) => {
  const decoded = decode(topic, value)
  if (Either.isLeft(decoded)) assert.fail(`${label}\n${String(decoded.left)}`)
  assert.deepStrictEqual(decoded.right, value, label)
}

const plainJson = FastCheck.jsonValue({ maxDepth: 3 }).filter((value) => !JSON.stringify(value).includes("__proto__"))

const novelty: FastCheck.Arbitrary<Novelty> = FastCheck.record({
  key: FastCheck.stringMatching(/^[a-z][a-z0-9_]{0,12}$/).map((name) => `x_unseen_${name}`),
  value: plainJson as FastCheck.Arbitrary<Json>,
  kind: FastCheck.stringMatching(/^[a-z][a-z0-9_.]{0,16}$/).map((name) => `unseen_kind_${name}`)
})

describe("inference survives real traffic (properties over the fixtures)", () => {
  it("there is something to vary: every kind of variation applies to some fixture", () => {
    for (const kind of variationKinds) {
      assert.isAbove(fixtures.flatMap((fixture) => positions(fixture.json as Json, kind)).length, 0, kind)
    }
  })

  it.prop(
    "any fixture with any one variation real traffic shows decodes under its topic and keeps every field",
    [
      FastCheck.nat({ max: fixtures.length - 1 }),
      FastCheck.constantFrom(...variationKinds),
      FastCheck.nat(),
      novelty
    ],
    ([index, kind, at, extra]) => {
      const fixture = fixtures[index]!
      const root = fixture.json as Json
      const candidates = positions(root, kind)
      FastCheck.pre(candidates.length > 0)
      const position = candidates[at % candidates.length]!
      decodesKeepingEverything(
        fixture.topic,
        vary(root, kind, position, extra),
        `${fixture.topic}/${fixture.file}: ${kind} at ${[...position.path, position.key ?? ""].join(".")}`
      )
    },
    { fastCheck: { numRuns: 3000 } }
  )

  it("every variation at every position of every fixture decodes and keeps every field (exhaustive sweep)", () => {
    const extra: Novelty = { key: "x_unseen_field", value: { nested: [1, "two", null] }, kind: "unseen_kind" }
    let checked = 0
    for (const fixture of fixtures) {
      const root = fixture.json as Json
      for (const kind of variationKinds) {
        for (const position of positions(root, kind as VariationKind)) {
          const label = `${fixture.topic}/${fixture.file}: ${kind} at ${
            [...position.path, position.key ?? ""].join(".")
          }`
          decodesKeepingEverything(fixture.topic, vary(root, kind, position, extra), label)
          checked++
        }
      }
    }
    assert.isAbove(checked, 1000)
  })
})
