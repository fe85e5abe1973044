import { assert, describe, it } from "@effect/vitest"
import { Either, Option } from "effect"
import { parseRoutes, sinksFor } from "../src/pipeline/Routes.js"

const parsed = (text: string) => Either.getOrThrow(parseRoutes(text))
const refusal = (text: string) => Option.getOrThrow(Either.getLeft(parseRoutes(text)))

describe("ROUTES", () => {
  it("a rule is pattern=sink,sink; spaces around parts and empty rules or sink names are ignored", () => {
    assert.deepStrictEqual(parsed(" contacts.* = file , http ;; ping=console,; *=file;"), [
      { pattern: "contacts.*", sinks: ["file", "http"] },
      { pattern: "ping", sinks: ["console"] },
      { pattern: "*", sinks: ["file"] }
    ])
  })

  it("a refusal names the rule or pattern and says what is wrong", () => {
    assert.strictEqual(refusal("ping"), "\"ping\" is not of the form pattern=sink,sink")
    assert.strictEqual(refusal("ping=file=http"), "\"ping=file=http\" is not of the form pattern=sink,sink")
    assert.strictEqual(refusal("con*=file"), "\"con*\" is not a topic, a prefix ending in .* or *")
    assert.strictEqual(refusal("=file"), "\"\" is not a topic, a prefix ending in .* or *")
    assert.strictEqual(refusal("ping=file;contacts.*=file;ping=http"), "\"ping\" appears twice")
    assert.strictEqual(refusal("ping= , "), "\"ping= ,\" names no sink")
    assert.strictEqual(refusal(" ; ;"), "no rule given")
    assert.strictEqual(refusal(""), "no rule given")
  })

  it("a pattern is *, a dotted topic, or a dotted prefix ending in .*", () => {
    const valid = ["*", "ping", "contacts.created", "contacts.tagCreated", "ticket.state.updated", "a_b-9.*", "x.y.*"]
    for (const pattern of valid) assert.isTrue(Either.isRight(parseRoutes(`${pattern}=file`)), pattern)
    const invalid = [".", "contacts.", ".contacts", "contacts..created", "contacts.*.x", "*.contacts", "**", "a b", "é"]
    for (const pattern of invalid) assert.isTrue(Either.isLeft(parseRoutes(`${pattern}=file`)), pattern)
  })

  it("the most specific rule wins: the exact topic, then the longest prefix, then *", () => {
    const routes = parsed("*=any;contacts.*=contacts;contacts.tag.*=tags;contacts.tag.created=exact")
    assert.deepStrictEqual(sinksFor(routes, "contacts.tag.created"), ["exact"])
    assert.deepStrictEqual(sinksFor(routes, "contacts.tag.deleted"), ["tags"])
    assert.deepStrictEqual(sinksFor(routes, "contacts.created"), ["contacts"])
    assert.deepStrictEqual(sinksFor(routes, "contacts"), ["any"], "a prefix matches only at a dot")
    assert.deepStrictEqual(sinksFor(routes, "contactsx.created"), ["any"])
    assert.deepStrictEqual(sinksFor(routes, "ping"), ["any"])
    const reversed = parsed("contacts.tag.created=exact;contacts.tag.*=tags;contacts.*=contacts;*=any")
    assert.deepStrictEqual(sinksFor(reversed, "contacts.tag.created"), ["exact"], "whatever the order of the rules")
    assert.deepStrictEqual(sinksFor(reversed, "contacts.tag.deleted"), ["tags"])
    assert.deepStrictEqual(sinksFor(reversed, "ping"), ["any"])
  })

  it("a topic no rule matches has no sinks", () => {
    const routes = parsed("contacts.*=file;ping=console")
    assert.isUndefined(sinksFor(routes, "conversations.closed"))
    assert.isUndefined(sinksFor(routes, "contacts"))
    assert.isUndefined(sinksFor(routes, "pings"))
  })
})
