import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { declaration, generateFrom, itemSchemaOf, notification } from "./support/Codegen.js"

const thing = (fields: Record<string, unknown>) => ({ type: "thing", id: "1", ...fields })

const thingSchema = (...samples: ReadonlyArray<Record<string, unknown>>) =>
  declaration(itemSchemaOf(...samples.map(thing)), "Thing")

describe("inference rules (golden)", () => {
  it("identity keys seen in every sample are required; every other key is optional", () => {
    assert.strictEqual(
      thingSchema({ name: "a" }, { name: "b" }),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.String,
  name: Schema.optional(Schema.String)
}).annotations({ identifier: "Thing" })`
    )
  })

  it("an identity key missing from one sample is optional", () => {
    assert.strictEqual(
      declaration(itemSchemaOf({ type: "thing", id: "1" }, { type: "thing" }), "Thing"),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.optional(Schema.String)
}).annotations({ identifier: "Thing" })`
    )
  })

  it("null beside a type gives NullOr; null, a type and a missing key give optional NullOr", () => {
    assert.strictEqual(
      thingSchema({ a: null, b: "x" }, { a: 1, b: null }, { b: "y" }),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.String,
  a: Schema.optional(Schema.NullOr(Schema.Finite)),
  b: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "Thing" })`
    )
  })

  it("only null gives Unknown, never Null", () => {
    assert.strictEqual(
      thingSchema({ gone: null }, { gone: null }),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.String,
  gone: Schema.optional(Schema.Unknown)
}).annotations({ identifier: "Thing" })`
    )
  })

  it("only empty arrays give Array(Unknown); elements seen give their type", () => {
    assert.strictEqual(
      thingSchema({ none: [], some: [] }, { none: [], some: [1, 2.5] }),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.String,
  none: Schema.optional(Schema.Array(Schema.Unknown)),
  some: Schema.optional(Schema.Array(Schema.Finite))
}).annotations({ identifier: "Thing" })`
    )
  })

  it("several primitive kinds give a Union in the fixed order String, Finite, Boolean", () => {
    assert.strictEqual(
      thingSchema({ at: true }, { at: 1700000000 }, { at: "2026-01-10T04:22:28.240+00:00" }),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.String,
  at: Schema.optional(Schema.Union(Schema.String, Schema.Finite, Schema.Boolean))
}).annotations({ identifier: "Thing" })`
    )
  })

  it("strings stay String however few distinct values were seen", () => {
    assert.include(thingSchema({ state: "open" }, { state: "open" }), "state: Schema.optional(Schema.String)")
  })

  it("an untyped object is named Parent + Key; digit keys, an empty object and many same-typed keys give a Record", () => {
    const many = Object.fromEntries(Array.from({ length: 10 }, (_, index) => [`k${index}`, `v${index}`]))
    const files = itemSchemaOf(thing({ meta: { a: 1 }, byId: { "1": "a", "22": "b" }, empty: {}, labels: many }))
    assert.strictEqual(
      declaration(files, "Thing"),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.String,
  byId: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  empty: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  labels: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  meta: Schema.optional(ThingMeta)
}).annotations({ identifier: "Thing" })`
    )
    assert.strictEqual(
      declaration(files, "ThingMeta"),
      `export const ThingMeta = Schema.Struct({
  a: Schema.optional(Schema.Finite)
}).annotations({ identifier: "ThingMeta" })`
    )
  })

  it("objects of one kind are merged into one schema across positions and topics", () => {
    const files = generateFrom([
      notification("a", { type: "thing", id: "1", owner: { type: "admin", id: "7", name: "Alan" } }),
      notification("b", { type: "admin", id: "8", email: "x@example.org" })
    ])
    assert.strictEqual(
      declaration(files, "Admin"),
      `export const Admin = Schema.Struct({
  type: Schema.Literal("admin"),
  id: Schema.String,
  email: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String)
}).annotations({ identifier: "Admin" })`
    )
    assert.strictEqual(declaration(files, "BItem"), "export const BItem = Admin")
  })

  it("different kinds at one position give a Union discriminated by type", () => {
    const files = itemSchemaOf({ type: "contact_tag", tag: "a" }, { type: "user_tag", tag: "b" })
    assert.strictEqual(declaration(files, "TItem"), "export const TItem = Schema.Union(ContactTag, UserTag)")
    assert.include(declaration(files, "UserTag"), `type: Schema.Literal("user_tag")`)
  })

  it("an object whose type repeats an enclosing kind is a member object, not that kind", () => {
    const files = itemSchemaOf({ type: "conversation", id: "1", source: { type: "conversation", id: "2" } })
    assert.include(declaration(files, "Conversation"), "source: Schema.optional(ConversationSource)")
    assert.strictEqual(
      declaration(files, "ConversationSource"),
      `export const ConversationSource = Schema.Struct({
  type: Schema.String,
  id: Schema.String
}).annotations({ identifier: "ConversationSource" })`
    )
  })

  it("keys that are not identifiers are quoted", () => {
    assert.include(thingSchema({ "favourite café": "x" }), `"favourite café": Schema.optional(Schema.String)`)
  })

  it("every module starts with the generated-code header", () => {
    for (const content of Object.values(itemSchemaOf(thing({})))) {
      assert.isTrue(
        content.startsWith("// Code generated by scripts/codegen.ts from schemas/fixtures. DO NOT EDIT.\n"),
        content.slice(0, 80)
      )
    }
  })

  it("the project's generated schemas never use Any or a bare Null", () => {
    const dir = new URL("../src/generated/", import.meta.url)
    const sources = readdirSync(dir).map((file) => readFileSync(new URL(file, dir), "utf8"))
    assert.isAbove(sources.length, 0)
    for (const source of sources) assert.notMatch(source, /Schema\.(Any|Null)\b/)
  })
})
