import { assert, describe, it } from "@effect/vitest"
import { Cause, FastCheck, FiberId, FiberRefs, HashMap, List, Logger, LogLevel, LogSpan } from "effect"
import { Annotated, plainJsonLine } from "../src/ops/LogLines.js"

const plain = FastCheck.oneof(
  FastCheck.string(),
  FastCheck.fullUnicodeString(),
  FastCheck.double(),
  FastCheck.integer(),
  FastCheck.boolean(),
  FastCheck.constant(null)
)
const fields = FastCheck.dictionary(FastCheck.string({ minLength: 1 }), plain)

const runtimeId = FastCheck.nat().map((id) => FiberId.runtime(id, 1_000))
const fiberIds = FastCheck.oneof(
  runtimeId,
  FastCheck.constant(FiberId.none),
  FastCheck.tuple(runtimeId, runtimeId).map(([left, right]) => FiberId.composite(left, right))
)

const options = (
  message: unknown,
  annotations = HashMap.empty<string, unknown>(),
  fiberId: FiberId.FiberId = FiberId.runtime(7, 1_000)
) => ({
  fiberId,
  logLevel: LogLevel.Info,
  message,
  cause: Cause.empty,
  context: FiberRefs.empty(),
  spans: List.empty<LogSpan.LogSpan>(),
  annotations,
  date: new Date(1_764_547_200_123)
})

/** What Effect's own JSON logger writes for the same line, its fields given as the fiber's annotations. */
const effects = (message: Annotated, fiberId?: FiberId.FiberId) =>
  Logger.jsonLogger.log(
    options(message.message, HashMap.fromIterable(Object.entries(message.annotations)), fiberId)
  )

describe("log lines", () => {
  it.prop(
    "an Annotated line of plain values is the line Effect's JSON logger writes (its fields in their own order)",
    [FastCheck.string(), fields, fiberIds],
    ([text, values, fiberId]) => {
      const message = new Annotated(text, values)
      const line = plainJsonLine(options(message, undefined, fiberId))
      if (Object.hasOwn(values, "__proto__")) return assert.isUndefined(line)
      assert.isDefined(line)
      assert.deepStrictEqual(JSON.parse(line!), JSON.parse(effects(message, fiberId)))
      assert.strictEqual(plainJsonLine(options([message], undefined, fiberId)), line)
    },
    { fastCheck: { numRuns: 500 } }
  )

  it("anything the direct form cannot write the same way is left to Effect's logger", () => {
    const message = new Annotated("webhook", { status: 200 })
    assert.isUndefined(plainJsonLine(options(new Annotated("webhook", { failures: ["file: disk full"] }))))
    assert.isUndefined(plainJsonLine(options(message, HashMap.make(["request", "abc"]))))
    assert.isUndefined(plainJsonLine({ ...options(message), cause: Cause.fail("boom") }))
    assert.isUndefined(plainJsonLine({ ...options(message), spans: List.make(LogSpan.make("read", 0)) }))
    assert.isUndefined(plainJsonLine(options("a plain message")))
    // Effect's formatter copies annotations into a plain object, where this name sets the prototype: the field is lost.
    assert.isUndefined(plainJsonLine(options(new Annotated("webhook", JSON.parse("{\"__proto__\":null}")))))
  })

  it("the request line's fields appear as annotations next to the message", () => {
    const line = plainJsonLine(options(new Annotated("webhook", { status: 200, topic: "ping", id: "-" })))
    assert.deepStrictEqual(JSON.parse(line!), {
      message: "webhook",
      logLevel: "INFO",
      timestamp: "2025-12-01T00:00:00.123Z",
      annotations: { status: 200, topic: "ping", id: "-" },
      spans: {},
      fiberId: "#7"
    })
  })
})
