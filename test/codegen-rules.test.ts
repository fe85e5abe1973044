import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { declaration, generateFrom, itemSchemaOf, notification, opaque } from "./support/Codegen.js"

const thing = (fields: Record<string, unknown>) => ({ type: "thing", id: "1", ...fields })

const thingSchema = (...samples: ReadonlyArray<Record<string, unknown>>) =>
  declaration(itemSchemaOf(...samples.map(thing)), "Thing")

describe("inference rules (golden)", () => {
  it("an object's type is an interface named after it, and its exported schema is typed by that interface", () => {
    assert.deepStrictEqual(opaque(itemSchemaOf(thing({ name: "a" })), "Thing"), [
      "export interface Thing extends Schema.Schema.Type<typeof ThingSchema> {}",
      "export const Thing: Schema.Schema<Thing> = ThingSchema"
    ])
  })

  it("type and id of a kind seen in every sample are required; every other key is optional and nullable", () => {
    assert.strictEqual(
      thingSchema({ name: "a" }, { name: "b" }),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.String,
  name: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "Thing" })`
    )
  })

  it("an identity key missing from one sample is optional", () => {
    assert.strictEqual(
      declaration(itemSchemaOf({ type: "thing", id: "1" }, { type: "thing" }), "Thing"),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "Thing" })`
    )
  })

  it("the envelope requires only type and topic; its id is optional and nullable", () => {
    assert.strictEqual(
      declaration(itemSchemaOf(thing({})), "NotificationEnvelope"),
      `export const NotificationEnvelope = Schema.Struct({
  type: Schema.String,
  id: Schema.optional(Schema.NullOr(Schema.String)),
  topic: Schema.String
}).annotations({ identifier: "NotificationEnvelope" })`
    )
  })

  it("null seen beside a type gives NullOr once, whether or not the key was always there", () => {
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

  it("only empty arrays give Array(Unknown); elements seen give their type; elements are not made nullable", () => {
    assert.strictEqual(
      thingSchema({ none: [], some: [] }, { none: [], some: [1, 2.5] }),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.String,
  none: Schema.optional(Schema.NullOr(Schema.Array(Schema.Unknown))),
  some: Schema.optional(Schema.NullOr(Schema.Array(Schema.Finite)))
}).annotations({ identifier: "Thing" })`
    )
  })

  it("several primitive kinds give a Union in the fixed order String, Finite, Boolean", () => {
    assert.strictEqual(
      thingSchema({ mixed: true }, { mixed: 7 }, { mixed: "seven" }),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.String,
  mixed: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Finite, Schema.Boolean)))
}).annotations({ identifier: "Thing" })`
    )
  })

  it("a timestamp by name (*_at, *_since, *_until) is Timestamp: unix seconds or an ISO string, even when only null", () => {
    assert.strictEqual(
      thingSchema({ created_at: 7, waiting_since: null, snoozed_until: "soon" }, { created_at: "x", seen_at: null }),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.String,
  created_at: Schema.optional(Schema.NullOr(Timestamp)),
  seen_at: Schema.optional(Schema.NullOr(Timestamp)),
  snoozed_until: Schema.optional(Schema.NullOr(Timestamp)),
  waiting_since: Schema.optional(Schema.NullOr(Timestamp))
}).annotations({ identifier: "Thing" })`
    )
  })

  it("a value that looks like a point in time (ISO date-time, ten-digit integer) makes any key a Timestamp", () => {
    assert.strictEqual(
      thingSchema({ closed: "2026-01-10T04:22:28.240+00:00", opened: 1767012345, count: 12, flag: true }),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.String,
  closed: Schema.optional(Schema.NullOr(Timestamp)),
  count: Schema.optional(Schema.NullOr(Schema.Finite)),
  flag: Schema.optional(Schema.NullOr(Schema.Boolean)),
  opened: Schema.optional(Schema.NullOr(Timestamp))
}).annotations({ identifier: "Thing" })`
    )
    assert.include(
      thingSchema({ at: true }, { at: 1700000000 }),
      "at: Schema.optional(Schema.NullOr(Schema.Union(Timestamp, Schema.Boolean)))"
    )
  })

  it("Timestamp and OtherKind are declared once at the top of Objects", () => {
    const objects = itemSchemaOf(thing({}))["Objects.ts"]!
    assert.include(
      objects,
      `export const Timestamp = Schema.Union(Schema.Finite, Schema.String).annotations({ identifier: "Timestamp" })`
    )
    assert.include(objects, "export const OtherKind = (...kinds: ReadonlyArray<string>) =>")
    assert.isBelow(objects.indexOf("export const OtherKind"), objects.indexOf("export const Thing"))
  })

  it("a reference to another object (*_id) accepts a string or a number, even when the samples showed only one", () => {
    assert.include(
      thingSchema({ owner_id: 7 }, { owner_id: null }),
      "owner_id: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Finite)))"
    )
  })

  it("strings stay String however few distinct values were seen", () => {
    assert.include(
      thingSchema({ state: "open" }, { state: "open" }),
      "state: Schema.optional(Schema.NullOr(Schema.String))"
    )
  })

  it("an untyped object is named Parent + Key with every field optional; digit keys, {} and many same-typed keys give a Record", () => {
    const many = Object.fromEntries(Array.from({ length: 10 }, (_, index) => [`k${index}`, `v${index}`]))
    const files = itemSchemaOf(
      thing({ meta: { type: "m", id: "9", a: 1 }, byId: { "1": "a", "22": "b" }, empty: {}, labels: many })
    )
    assert.strictEqual(
      declaration(files, "Thing"),
      `export const Thing = Schema.Struct({
  type: Schema.Literal("thing"),
  id: Schema.String,
  byId: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.NullOr(Schema.String) }))),
  empty: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown }))),
  labels: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.NullOr(Schema.String) }))),
  meta: Schema.optional(Schema.NullOr(Schema.Union(M, OtherKind("m"))))
}).annotations({ identifier: "Thing" })`
    )
    const untyped = itemSchemaOf(thing({ meta: { a: 1, id: "2" } }))
    assert.strictEqual(
      declaration(untyped, "ThingMeta"),
      `export const ThingMeta = Schema.Struct({
  id: Schema.optional(Schema.NullOr(Schema.String)),
  a: Schema.optional(Schema.NullOr(Schema.Finite))
}).annotations({ identifier: "ThingMeta" })`
    )
  })

  it("custom_attributes, whose keys and values each workspace defines, is a map of anything", () => {
    assert.include(
      thingSchema({ custom_attributes: { plan: "pro", seats: 3 } }),
      "custom_attributes: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })))"
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
  email: Schema.optional(Schema.NullOr(Schema.String)),
  name: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "Admin" })`
    )
    assert.strictEqual(declaration(files, "BItem"), `export const BItem = Schema.Union(Admin, OtherKind("admin"))`)
  })

  it("kinds at one position give an open Union: the kinds seen, then OtherKind for any kind never seen there", () => {
    const files = itemSchemaOf({ type: "contact_tag", tag: "a" }, { type: "user_tag", tag: "b" })
    assert.strictEqual(
      declaration(files, "TItem"),
      `export const TItem = Schema.Union(ContactTag, UserTag, OtherKind("contact_tag", "user_tag"))`
    )
    assert.include(declaration(files, "UserTag"), `type: Schema.Literal("user_tag")`)
    assert.include(files["T.ts"]!, `import { ContactTag, NotificationData, NotificationEnvelope, OtherKind, UserTag }`)
  })

  it("an object whose type repeats an enclosing kind is a member object, not that kind", () => {
    const files = itemSchemaOf({ type: "conversation", id: "1", source: { type: "conversation", id: "2" } })
    assert.include(declaration(files, "Conversation"), "source: Schema.optional(Schema.NullOr(ConversationSource))")
    assert.strictEqual(
      declaration(files, "ConversationSource"),
      `export const ConversationSource = Schema.Struct({
  type: Schema.optional(Schema.NullOr(Schema.String)),
  id: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "ConversationSource" })`
    )
  })

  it("keys that are not identifiers are quoted", () => {
    assert.include(
      thingSchema({ "favourite café": "x" }),
      `"favourite café": Schema.optional(Schema.NullOr(Schema.String))`
    )
  })

  it("each schema also becomes a compiled validator with the same rules, in plain code", () => {
    const validators = itemSchemaOf(
      thing({ name: "a", seen_at: null, tags: [{ type: "tag", id: "9" }], meta: { "1": 2 } })
    )["Validators.ts"]!
    assert.strictEqual(
      validators.slice(validators.indexOf("const isThing"), validators.indexOf("\n\nconst isTNotification")),
      `const isThing = (value: unknown): boolean =>
  isRecord(value) &&
  Object.hasOwn(value, "type") && value["type"] === "thing" &&
  Object.hasOwn(value, "id") && typeof value["id"] === "string" &&
  (value["meta"] === undefined ||
    (value["meta"] === null || isRecordOf(value["meta"], (e0) => (e0 === null || isFinite(e0))))) &&
  (value["name"] === undefined || (value["name"] === null || typeof value["name"] === "string")) &&
  (value["seen_at"] === undefined || (value["seen_at"] === null || isTimestamp(value["seen_at"]))) &&
  (value["tags"] === undefined ||
    (value["tags"] === null || isArrayOf(value["tags"], (e0) => (isTag(e0) || otherKind0(e0)))))`
    )
    assert.include(validators, `const otherKind0 = otherKind(["tag"])`)
    assert.include(validators, `export const validators = {\n  "t": isTNotification\n} as const`)
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
