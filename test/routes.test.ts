import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer, Option } from "effect"
import { ReceiverConfig } from "../src/config/ReceiverConfig.js"
import type { CanonicalTopic } from "../src/generated/index.js"
import type { Notification } from "../src/pipeline/Notification.js"
import { Router } from "../src/pipeline/Router.js"
import { parseRoutes, sinksFor } from "../src/pipeline/Routes.js"
import { type Sink, Sinks } from "../src/sinks/Sink.js"

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

const sink = (name: string): Sink => ({ name, mode: "inline", input: "bytes", deliver: () => Effect.void })

/** The Router layer built from these settings, with sinks of these names running. */
const router = (env: Record<string, string>, running: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    return yield* Router
  }).pipe(
    Effect.provide(Router.layer),
    Effect.provide(Layer.succeed(Sinks, new Map(running.map((name) => [name, sink(name)])))),
    Effect.provide(ReceiverConfig.layer),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({ INTERCOM_CLIENT_SECRET: "s", ...env }))))
  )

const topicOf = (topic: CanonicalTopic | null, intercomTopic: string) =>
  ({ topic, intercomTopic }) as Pick<Notification, "topic" | "intercomTopic"> as Notification

describe("Router", () => {
  it.effect("ROUTES naming sinks this program does not run stops the start, naming all of them and ROUTES", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(router({ SINKS: "file,mirror", ROUTES: "ping=file,mirror,handlers" }, ["file"]))
      assert.strictEqual(error._op, "InvalidData")
      if (error._op === "InvalidData") {
        assert.deepStrictEqual(error.path, ["ROUTES"])
        assert.strictEqual(
          error.message,
          "ROUTES sends ping to mirror, handlers, which this program does not run " +
            "(typed handlers need Handlers.layer, see README)"
        )
      }
      const plain = yield* Effect.flip(router({ SINKS: "file,mirror", ROUTES: "*=file;ping=mirror" }, ["file"]))
      assert.strictEqual(
        plain._op === "InvalidData" ? plain.message : plain._op,
        "ROUTES sends ping to mirror, which this program does not run"
      )
    }))

  it.effect("each notification goes to the sinks of its most specific rule, by canonical topic, else Intercom topic", () =>
    Effect.gen(function*() {
      const { route } = yield* router(
        { SINKS: "console,file", ROUTES: "*=file;contacts.*=console,file;ticket.created=console" },
        ["console", "file"]
      )
      const names = (topic: CanonicalTopic | null, intercomTopic: string) =>
        route(topicOf(topic, intercomTopic)).map((chosen) => chosen.name)
      for (let round = 0; round < 2; round++) {
        assert.deepStrictEqual(names("contacts.created", "contact.user.created"), ["console", "file"])
        assert.deepStrictEqual(names("ping", "ping"), ["file"])
        assert.deepStrictEqual(names(null, "ticket.created"), ["console"])
        assert.deepStrictEqual(names(null, "ticket.closed"), ["file"])
      }
      const everything = yield* router({ SINKS: "console,file" }, ["console", "file"])
      assert.deepStrictEqual(everything.route(topicOf("ping", "ping")).map((chosen) => chosen.name), [
        "console",
        "file"
      ])
    }))
})
