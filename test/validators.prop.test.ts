import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, FastCheck, Schema } from "effect"
import { type CanonicalTopic, canonicalTopics, topicSchemas, validators } from "../src/generated/index.js"
import { checkers } from "../src/pipeline/Notification.js"
import { corpusDir, loadFixtures } from "./support/Fixtures.js"
import { type Json, positions, variationKinds, vary } from "./support/Variations.js"

/** The Effect Schema's verdict, as the service asks for it (unknown fields ignored). */
const sameVerdict = (topic: CanonicalTopic, value: unknown, label: string) => {
  const schema = checkers[topic](value) === undefined
  assert.strictEqual(validators[topic](value), schema, `${label}: the schema says ${schema ? "valid" : "invalid"}`)
}

/**
 * Values that sit on the edges of the rules: kinds, nulls, empty containers, look-alikes, and the one non-finite number
 * JSON can give (`1e400` parses as Infinity).
 */
const edgy: FastCheck.Arbitrary<unknown> = FastCheck.oneof(
  FastCheck.constantFrom<unknown>(
    null,
    "",
    0,
    -1.5,
    JSON.parse("1e400"),
    true,
    false,
    [],
    {},
    [null],
    [{}],
    "2026-01-10T04:22:28.000+00:00",
    1767012345,
    { type: null },
    { type: "admin" },
    { type: "admin", id: "1" },
    { type: "conversation", id: "1" },
    { type: "contact", id: 7 },
    { type: "tag", id: "1", name: null },
    { type: "unseen_kind", anything: [1] },
    "admin",
    ["admin"]
  ),
  FastCheck.jsonValue({ maxDepth: 2 })
)

/** Every path to a value inside `value`: object fields and array elements. */
const paths = (value: unknown, path: ReadonlyArray<string | number> = []): Array<ReadonlyArray<string | number>> => {
  if (Array.isArray(value)) {
    return value.flatMap((element, index) => [[...path, index], ...paths(element, [...path, index])])
  }
  if (typeof value !== "object" || value === null) return []
  return Object.entries(value).flatMap(([key, field]) => [[...path, key], ...paths(field, [...path, key])])
}

/** `value` with the thing at `path` replaced by `replacement`, or removed when `replacement` is undefined. */
const replaced = (value: unknown, path: ReadonlyArray<string | number>, replacement: unknown): unknown => {
  const copy = structuredClone(value) as Record<string | number, unknown>
  let target = copy
  for (const step of path.slice(0, -1)) target = target[step] as Record<string | number, unknown>
  const last = path[path.length - 1]!
  if (replacement === undefined && !Array.isArray(target)) delete target[last]
  else target[last] = replacement === undefined ? null : replacement
  return copy
}

const samples = [...loadFixtures(), ...loadFixtures(corpusDir)]

describe("compiled validators give the generated schemas' verdicts", () => {
  for (const topic of canonicalTopics) {
    const schema = topicSchemas[topic] as unknown as Schema.Schema<unknown>
    const encode = Schema.encodeSync(schema)

    it.prop(`${topic}: any value of the schema is valid for both`, [Arbitrary.make(schema)], ([value]) => {
      const wire = JSON.parse(JSON.stringify(encode(value)))
      assert.isTrue(validators[topic](wire))
      sameVerdict(topic, wire, "an Arbitrary value")
    }, { fastCheck: { numRuns: 100 } })

    it.prop(
      `${topic}: any value of the schema with one place replaced or removed gets the same verdict from both`,
      [Arbitrary.make(schema), FastCheck.nat(), FastCheck.option(edgy, { nil: undefined })],
      ([value, at, replacement]) => {
        const wire = JSON.parse(JSON.stringify(encode(value)))
        const places = paths(wire)
        FastCheck.pre(places.length > 0)
        const path = places[at % places.length]!
        sameVerdict(topic, replaced(wire, path, replacement), `${path.join(".")} := ${JSON.stringify(replacement)}`)
      },
      { fastCheck: { numRuns: 300 } }
    )
  }

  it.prop(
    "any fixture or corpus notification with one place replaced or removed gets the same verdict from both",
    [FastCheck.nat({ max: samples.length - 1 }), FastCheck.nat(), FastCheck.option(edgy, { nil: undefined })],
    ([index, at, replacement]) => {
      const sample = samples[index]!
      const places = paths(sample.json)
      const path = places[at % places.length]!
      sameVerdict(
        sample.topic as CanonicalTopic,
        replaced(sample.json, path, replacement),
        `${sample.topic}/${sample.file}: ${path.join(".")} := ${JSON.stringify(replacement)}`
      )
    },
    { fastCheck: { numRuns: 3000 } }
  )

  it("a field of a named kind that takes any value (nobody_admin's id) may be absent for both, as found by a seed", () => {
    const assigned = {
      type: "notification_event",
      topic: "conversation.admin.assigned",
      data: { item: { type: "conversation", id: "1", assignee: { type: "nobody_admin" } } }
    }
    assert.isUndefined(checkers["conversations.assigned"](assigned))
    sameVerdict("conversations.assigned", assigned, "assignee without id")
  })

  it("a kind's type that is a JSON object String() cannot convert is a mismatch for both, as found by a seed", () => {
    const deleted = {
      type: "notification_event",
      topic: "contact.deleted",
      data: { item: { type: JSON.parse(`{"toString":0}`), id: "1" } }
    }
    assert.match(checkers["contacts.deleted"](deleted) ?? "", /cannot read/)
    sameVerdict("contacts.deleted", deleted, "item type {toString: 0}")
  })

  it("every fixture and corpus notification, and each of their variations, gets the same verdict from both", () => {
    const novelty = { key: "x_unseen", value: { a: [1, null] } as Json, kind: "unseen_kind" }
    let checked = 0
    for (const sample of samples) {
      const topic = sample.topic as CanonicalTopic
      sameVerdict(topic, sample.json, `${sample.topic}/${sample.file}`)
      for (const kind of variationKinds) {
        for (const position of positions(sample.json as Json, kind)) {
          sameVerdict(topic, vary(sample.json as Json, kind, position, novelty), `${sample.file}: ${kind}`)
          checked++
        }
      }
      for (const other of canonicalTopics) sameVerdict(other, sample.json, `${sample.file} under ${other}`)
    }
    assert.isAbove(checked, 1000)
  })
})
