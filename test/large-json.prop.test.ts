import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { readFileSync } from "node:fs"
import { notificationOfSize, templatePath } from "../scripts/bench/requests.js"
import { inPieces, parseJsonBytes, PIECE } from "../src/pipeline/LargeJson.js"

/** What `JSON.parse` gives, or the message it throws. */
const outcome = (parse: () => unknown): { value: unknown } | { error: string } => {
  try {
    return { value: parse() }
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` }
  }
}

/**
 * Equal as `JSON.parse`'s values are: same kinds, same own keys in the same order, same prototype, -0 kept. A loop over
 * pairs to compare, not a recursion: some values nest 100,000 deep.
 */
const same = (left: unknown, right: unknown): void => {
  const pairs: Array<[unknown, unknown, string]> = [[left, right, "$"]]
  for (let next = pairs.pop(); next !== undefined; next = pairs.pop()) {
    const [a, b, path] = next
    if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) {
      assert.isTrue(Object.is(a, b), `${path}: ${String(a)} against ${String(b)}`)
      continue
    }
    assert.strictEqual(Array.isArray(a), Array.isArray(b), `${path}: array or not`)
    assert.strictEqual(Object.getPrototypeOf(a), Object.getPrototypeOf(b), `${path}: prototype`)
    assert.deepStrictEqual(Reflect.ownKeys(a), Reflect.ownKeys(b), `${path}: keys`)
    for (const key of Reflect.ownKeys(a) as Array<string>) {
      pairs.push([(a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${path}.${key}`])
    }
  }
}

/** `JSON.parse`'s outcome, by the walk itself when `walked` (any JSON but nesting past 512 levels is walked). */
const sameOutcome = (text: string, piece: number, walked = true) => {
  const expected = outcome(() => JSON.parse(text))
  const actual = outcome(() => parseJsonBytes(Buffer.from(text), piece))
  if ("error" in expected) return assert.deepStrictEqual(actual, expected, text)
  if ("error" in actual) assert.fail(`parsed in pieces: ${actual.error}, where JSON.parse gives a value`)
  same((actual as { value: unknown }).value, expected.value)
  const bytes = Buffer.from(text)
  if (walked && bytes.length > piece) assert.isDefined(inPieces(bytes, piece), "valid JSON is walked, not parsed whole")
}

/** Keys that name JavaScript's own machinery or sort before others, beside ordinary ones. */
const key = FastCheck.oneof(
  FastCheck.string({ maxLength: 6 }),
  FastCheck.constantFrom("__proto__", "constructor", "toString", "0", "1", "10", "-1", "a\"b", "é", "\u2028")
)

/** JSON values with such keys, repeated keys written out, and strings that need escapes. */
const json: FastCheck.Arbitrary<string> = FastCheck.letrec<{ value: string }>((tie) => ({
  value: FastCheck.oneof(
    { depthSize: "small", withCrossShrink: true },
    FastCheck.jsonValue({ maxDepth: 1 }).map((value) => JSON.stringify(value) ?? "null"),
    FastCheck.array(tie("value"), { maxLength: 6 }).map((elements) => `[${elements.join(",")}]`),
    FastCheck.array(FastCheck.tuple(key, tie("value")), { maxLength: 6 }).map((members) =>
      `{${members.map(([name, value]) => `${JSON.stringify(name)}:${value}`).join(",")}}`
    )
  )
})).value

/** Whitespace JSON allows, and some it does not, inserted at `places` ([position, kind] each). */
const SPACES = [" ", "\n", "\t\r", "\u00a0", "\u000b", "\ufeff"]
const spaced = (text: string, places: ReadonlyArray<readonly [number, number]>) => {
  let result = text
  for (const [at, kind] of places) {
    const position = at % (result.length + 1)
    result = result.slice(0, position) + SPACES[kind % SPACES.length] + result.slice(position)
  }
  return result
}

const STRUCTURE = "[]{},:\""

/** `text` with its `which`-th punctuation byte replaced by another (a bracket closed by the other kind, ...). */
const swapped = (text: string, which: number, by: number) => {
  const places = [...text].flatMap((char, index) => STRUCTURE.includes(char) ? [index] : [])
  if (places.length === 0) return text
  const at = places[which % places.length]!
  return text.slice(0, at) + STRUCTURE[by % STRUCTURE.length] + text.slice(at + 1)
}

describe("JSON.parse of large bodies in pieces", () => {
  it.prop(
    "any JSON, cut into pieces of any size, parses to JSON.parse's value",
    [json, FastCheck.integer({ min: 1, max: 48 })],
    ([text, piece]) => {
      sameOutcome(text, piece)
      if (text.length > piece) {
        assert.isDefined(inPieces(Buffer.from(text), piece), "valid JSON is walked, not parsed whole")
      }
    },
    { fastCheck: { numRuns: 2000 } }
  )

  it.prop(
    "with whitespace anywhere, valid or not, the value or the error is JSON.parse's",
    [
      json,
      FastCheck.array(FastCheck.tuple(FastCheck.nat(), FastCheck.nat()), { maxLength: 4 }),
      FastCheck.integer({ min: 1, max: 48 })
    ],
    ([text, places, piece]) => sameOutcome(spaced(text, places), piece),
    { fastCheck: { numRuns: 2000 } }
  )

  it.prop(
    "one byte inserted, removed or replaced anywhere: the value or the error is JSON.parse's",
    [
      json,
      FastCheck.nat(),
      FastCheck.constantFrom("insert", "remove", "replace"),
      FastCheck.constantFrom(...",:{}[]\"\\ 0-e.tfn\u0001x"),
      FastCheck.integer({ min: 1, max: 48 })
    ],
    ([text, at, change, byte, piece]) => {
      const position = at % (text.length + 1)
      const changed = change === "insert"
        ? text.slice(0, position) + byte + text.slice(position)
        : text.slice(0, position) + (change === "replace" ? byte : "") + text.slice(position + 1)
      sameOutcome(changed, piece)
    },
    { fastCheck: { numRuns: 3000 } }
  )

  it.prop(
    "one punctuation byte swapped for another: the value or the error is JSON.parse's",
    [json, FastCheck.nat(), FastCheck.nat(), FastCheck.integer({ min: 1, max: 48 })],
    ([text, which, by, piece]) => sameOutcome(swapped(text, which, by), piece),
    { fastCheck: { numRuns: 3000 } }
  )

  it("the bench's 300 KB notification and a real one repeated past the limit parse as JSON.parse parses them", () => {
    const large = JSON.stringify(notificationOfSize(300_000), null, 1)
    assert.isAbove(large.length, PIECE * 4)
    sameOutcome(large, PIECE)
    assert.isDefined(inPieces(Buffer.from(large), PIECE))
    const real = JSON.parse(readFileSync(templatePath, "utf8"))
    sameOutcome(JSON.stringify(Array.from({ length: 200 }, () => real)), PIECE)
    sameOutcome(`[${"[".repeat(100_000)}${"]".repeat(100_000)}]`, PIECE, false)
    sameOutcome(`{"a":${"[".repeat(100_000)}}`, PIECE, false)
    sameOutcome(JSON.stringify(Array.from({ length: 100_000 }, () => [[]])), PIECE)
  })
})
