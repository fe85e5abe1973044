import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { topLevelNumber } from "../src/pipeline/TopLevelNumber.js"

const space = FastCheck.constantFrom("", " ", "\n", "\t ", "\r\n  ")
/** JSON number texts, including ones a double cannot hold exactly. */
const numberText = FastCheck.oneof(
  FastCheck.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  FastCheck.tuple(
    FastCheck.integer({ min: -99, max: 99 }),
    FastCheck.nat(999),
    FastCheck.integer({ min: -30, max: 30 })
  )
    .map(([whole, fraction, exponent]) => `${whole}.${fraction}e${exponent}`),
  FastCheck.constantFrom("0", "-0", "1E+2", "1e21", "0.000001", "123456789012345678901234567890")
)
/** Any JSON value but an `id` member: strings with escapes and quotes, nested objects and arrays. */
const otherValue = FastCheck.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value))
const idName = FastCheck.constantFrom("\"id\"", "\"\\u0069d\"", "\"i\\u0064\"")
const otherName = FastCheck.string({ maxLength: 6 }).filter((name) => name !== "id").map((name) => JSON.stringify(name))

const members = FastCheck.array(FastCheck.tuple(otherName, otherValue, space), { maxLength: 5 })

describe("the source text of a top-level number", () => {
  it.prop(
    "is the text the object holds for its last `id` member, whatever surrounds it",
    [members, members, idName, numberText, space, space, FastCheck.boolean()],
    ([before, after, name, text, gap, gap2, twice]) => {
      const member = (pairs: ReadonlyArray<readonly [string, string, string]>) =>
        pairs.map(([key, value, pad]) => `${pad}${key}${pad}:${pad}${value}${pad}`)
      const parts = [
        ...member(before),
        ...(twice ? [`${gap}"id"${gap}:${gap}"a string first"`] : []),
        `${gap}${name}${gap2}:${gap2}${text}${gap}`,
        ...member(after)
      ]
      const json = `${gap}{${parts.join(",")}}${gap2}`
      // The generated text is JSON, and `id` is the number whose text was written into it.
      assert.strictEqual(typeof JSON.parse(json).id, "number", json)
      assert.strictEqual(topLevelNumber(Buffer.from(json), "id"), text, json)
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop("is none when the last `id` is not a number", [members, otherValue], ([before, value]) => {
    const json = `{${[...before.map(([key, v]) => `${key}:${v}`), `"id":12`, `"id":${value}`].join(",")}}`
    const parsed = JSON.parse(json)
    if (typeof parsed.id === "number") return
    assert.isUndefined(topLevelNumber(Buffer.from(json), "id"), json)
  })

  it("reads members nested deeper past, not into", () => {
    const json = `{"data":{"id":1,"items":[{"id":2}]},"note":"\\"id\\":3","id":-4.5e+3}`
    assert.strictEqual(topLevelNumber(Buffer.from(json), "id"), "-4.5e+3")
  })
})
