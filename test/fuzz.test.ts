import { assert, describe, layer } from "@effect/vitest"
import { Effect, FastCheck } from "effect"
import { sign } from "../src/pipeline/Signature.js"
import { loadFixtures } from "./support/Fixtures.js"
import { SECRET, TestServer } from "./support/TestServer.js"

const bodies = loadFixtures().map((fixture) => fixture.bytes)

/** A body: random bytes, random JSON, or a fixture with a few bytes changed, cut or added. */
const body = FastCheck.oneof(
  FastCheck.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
  FastCheck.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? "null")),
  FastCheck.tuple(
    FastCheck.constantFrom(...bodies),
    FastCheck.array(FastCheck.tuple(FastCheck.nat(), FastCheck.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    FastCheck.nat()
  ).map(([original, edits, cut]) => {
    const bytes = Buffer.from(original)
    for (const [position, value] of edits) bytes[position % bytes.length] = value
    return bytes.subarray(0, bytes.length - (cut % 8))
  })
)

/** A signature header: none, garbage, a near miss, or a signature over other bytes. */
const badSignature = FastCheck.oneof(
  FastCheck.constant(null),
  FastCheck.string({ maxLength: 80 }),
  FastCheck.stringMatching(/^sha1=[0-9a-f]{40}$/),
  FastCheck.stringMatching(/^sha(1|256)=[0-9a-fA-F]{0,64}$/)
)

const contentType = FastCheck.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/x-www-form-urlencoded",
  "",
  "application/vnd.api+json"
)

describe("fuzz", () => {
  layer(TestServer.layer({ SINKS: "file" }), { excludeTestServices: true })((it) => {
    it.effect.prop(
      "unverified requests: never a crash, never a 5xx, never a record",
      [body, badSignature, contentType, FastCheck.constantFrom("POST", "PUT", "DELETE", "PATCH")],
      ([bytes, signature, type, method]) =>
        Effect.gen(function*() {
          const server = yield* TestServer
          const valid = signature === sign(SECRET, bytes)
          const answer = yield* server.post(bytes, { signature, contentType: type, method })
          assert.isBelow(answer.status, 500, answer.text)
          if (!valid) assert.notStrictEqual(answer.status, 200, answer.text)
          assert.deepStrictEqual(yield* server.records(), [])
        }),
      { fastCheck: { numRuns: 1500 } }
    )

    it.effect.prop(
      "signed random bodies: 200 only for notifications, 400 otherwise, never a 5xx",
      [body],
      ([bytes]) =>
        Effect.gen(function*() {
          const server = yield* TestServer
          const before = (yield* server.records()).length
          const answer = yield* server.post(bytes)
          assert.include([200, 400], answer.status, answer.text)
          const after = (yield* server.records()).length
          const recorded = answer.status === 200 && answer.json.status === "accepted" ? 1 : 0
          assert.strictEqual(after - before, recorded)
        }),
      { fastCheck: { numRuns: 1000 } }
    )
  })
})
