import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, FastCheck, Schema } from "effect"
import { canonicalTopics, topicSchemas } from "../src/generated/index.js"

const jsonRoundTrip = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

describe("generated schemas (properties)", () => {
  for (const topic of canonicalTopics) {
    const schema = topicSchemas[topic] as unknown as Schema.Schema<unknown, unknown>
    const encode = Schema.encodeSync(schema)
    const decode = Schema.decodeUnknownSync(schema)

    it.prop(`${topic}: any value survives encode -> JSON -> decode`, [schema], ([value]) => {
      const wire = JSON.stringify(encode(value))
      const decoded = decode(JSON.parse(wire))
      assert.strictEqual(JSON.stringify(encode(decoded)), wire)
    }, { fastCheck: { numRuns: 60 } })

    it.prop(
      `${topic}: fields the schema does not know are kept, at the top and inside the item`,
      [schema, FastCheck.jsonValue()],
      ([value, extra]) => {
        const wire = jsonRoundTrip(encode(value)) as { data: { item: Record<string, unknown> } }
        const payload = { ...wire, x_future_field: extra, data: { ...wire.data, item: { ...wire.data.item } } }
        payload.data.item.x_future_item_field = extra
        const decoded = decode(payload) as typeof payload
        assert.deepStrictEqual(jsonRoundTrip(decoded.x_future_field), jsonRoundTrip(extra))
        assert.deepStrictEqual(jsonRoundTrip(decoded.data.item.x_future_item_field), jsonRoundTrip(extra))
      },
      { fastCheck: { numRuns: 40 } }
    )
  }

  it("Arbitrary covers each topic's item kinds", () => {
    const kinds = FastCheck.sample(Arbitrary.make(topicSchemas["contacts.tagCreated"]), 200)
      .map((notification) => notification.data.item.type)
    assert.includeMembers([...new Set(kinds)], ["contact_tag", "user_tag"])
  })
})
