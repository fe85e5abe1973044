import { assert, describe, it } from "@effect/vitest"
import { Cause, FastCheck, FiberId, FiberRefs, HashMap, List, Logger, LogLevel, LogSpan } from "effect"
import { Annotated, jsonLine, plainJsonLine } from "../src/ops/LogLines.js"

const plain = FastCheck.oneof(
  FastCheck.string(),
  FastCheck.fullUnicodeString(),
  FastCheck.double(),
  FastCheck.integer(),
  FastCheck.boolean(),
  FastCheck.constant(null)
)
const fields = FastCheck.dictionary(FastCheck.string({ minLength: 1 }), plain)
/** Annotation values of any kind a fiber may carry: plain ones, arrays, objects, errors. */
const anything = FastCheck.oneof(
  plain,
  FastCheck.array(plain, { maxLength: 3 }),
  fields,
  FastCheck.string().map((message) => new Error(message))
)

const runtimeId = FastCheck.nat().map((id) => FiberId.runtime(id, 1_000))
const fiberIds = FastCheck.oneof(
  runtimeId,
  FastCheck.constant(FiberId.none),
  FastCheck.tuple(runtimeId, runtimeId).map(([left, right]) => FiberId.composite(left, right))
)
const spanLists = FastCheck.array(FastCheck.tuple(FastCheck.string(), FastCheck.nat(1_000)), { maxLength: 3 }).map(
  (spans) => List.fromIterable(spans.map(([label, ago]) => LogSpan.make(label, 1_764_547_200_123 - ago)))
)
const causes = FastCheck.oneof(
  FastCheck.constant(Cause.empty),
  FastCheck.string().map((error) => Cause.fail(error)),
  FastCheck.string().map((message) => Cause.die(new Error(message)))
)

const options = (
  message: unknown,
  annotations = HashMap.empty<string, unknown>(),
  fiberId: FiberId.FiberId = FiberId.runtime(7, 1_000)
) => ({
  fiberId,
  logLevel: LogLevel.Info,
  message,
  cause: Cause.empty as Cause.Cause<unknown>,
  context: FiberRefs.empty(),
  spans: List.empty<LogSpan.LogSpan>(),
  annotations,
  date: new Date(1_764_547_200_123)
})

/** What `jsonLine` writes for the same line, its fields given as the fiber's annotations. */
const general = (message: Annotated, fiberId?: FiberId.FiberId) =>
  jsonLine(options(message.message, HashMap.fromIterable(Object.entries(message.annotations)), fiberId))

/** Effect's own JSON line, without the fields the service leaves out: `fiberId`, and empty `annotations` or `spans`. */
const effectsWithValues = (line: string) => {
  const { annotations, fiberId: _, spans, ...rest } = JSON.parse(line)
  return {
    ...rest,
    ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
    ...(Object.keys(spans).length === 0 ? {} : { spans })
  }
}

describe("log lines", () => {
  it.prop(
    "a JSON line is Effect's JSON line with only the fields that carry something: no fiber id, no empty map",
    [
      FastCheck.oneof(FastCheck.string(), anything),
      FastCheck.dictionary(FastCheck.string(), anything),
      fiberIds,
      spanLists,
      causes
    ],
    ([message, annotations, fiberId, spans, cause]) => {
      const logged = { ...options(message, HashMap.fromIterable(Object.entries(annotations)), fiberId), spans, cause }
      const line = JSON.parse(jsonLine(logged))
      assert.deepStrictEqual(line, effectsWithValues(Logger.jsonLogger.log(logged)))
      assert.notProperty(line, "fiberId")
      assert.includeMembers(Object.keys(line), ["message", "logLevel", "timestamp"])
      for (const field of ["annotations", "spans"]) {
        if (field in line) assert.isNotEmpty(Object.keys(line[field]), field)
      }
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "an Annotated line of plain values is the line the general form writes (its fields in their own order)",
    [FastCheck.string(), fields, fiberIds],
    ([text, values, fiberId]) => {
      const message = new Annotated(text, values)
      const line = plainJsonLine(options(message, undefined, fiberId))
      if (Object.hasOwn(values, "__proto__")) return assert.isUndefined(line)
      assert.isDefined(line)
      assert.deepStrictEqual(JSON.parse(line!), JSON.parse(general(message, fiberId)))
      assert.strictEqual(plainJsonLine(options([message], undefined, fiberId)), line)
    },
    { fastCheck: { numRuns: 500 } }
  )

  it("anything the direct form cannot write the same way is left to the general one", () => {
    const message = new Annotated("webhook", { status: 200 })
    assert.isUndefined(plainJsonLine(options(new Annotated("webhook", { failures: ["file: disk full"] }))))
    assert.isUndefined(plainJsonLine(options(message, HashMap.make(["request", "abc"]))))
    assert.isUndefined(plainJsonLine({ ...options(message), cause: Cause.fail("boom") }))
    assert.isUndefined(plainJsonLine({ ...options(message), spans: List.make(LogSpan.make("read", 0)) }))
    assert.isUndefined(plainJsonLine(options("a plain message")))
    // Effect's formatter copies annotations into a plain object, where this name sets the prototype: the field is lost.
    assert.isUndefined(plainJsonLine(options(new Annotated("webhook", JSON.parse("{\"__proto__\":null}")))))
  })

  it("the request line: the message, its level, its time and its fields; nothing empty, no fiber id", () => {
    const line = plainJsonLine(options(new Annotated("webhook", { status: 200, topic: "ping", id: "-" })))
    assert.deepStrictEqual(JSON.parse(line!), {
      message: "webhook",
      logLevel: "INFO",
      timestamp: "2025-12-01T00:00:00.123Z",
      annotations: { status: 200, topic: "ping", id: "-" }
    })
    assert.deepStrictEqual(JSON.parse(plainJsonLine(options(new Annotated("started", {})))!), {
      message: "started",
      logLevel: "INFO",
      timestamp: "2025-12-01T00:00:00.123Z"
    })
    assert.strictEqual(
      jsonLine(options("Listening on http://0.0.0.0:8080")),
      "{\"message\":\"Listening on http://0.0.0.0:8080\",\"logLevel\":\"INFO\",\"timestamp\":\"2025-12-01T00:00:00.123Z\"}"
    )
  })
})
