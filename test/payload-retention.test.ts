import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import type { FileHandle } from "node:fs/promises"
import { queryObjects } from "node:v8"
import { decodeNotification, withoutPayload } from "../src/pipeline/Notification.js"
import { verifiedBeforeStoring } from "../src/pipeline/Signature.js"
import { DataSync } from "../src/store/DataSync.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { startServer } from "./support/TestServer.js"

const template = loadFixtures().find((fixture) => fixture.topic === "conversations.closed")!

/** The classes of a notification with its parsed payload, and of one without it (what a request keeps). */
const parsed = decodeNotification(verifiedBeforeStoring(template.bytes), new Date())
if (parsed._tag === "Left") throw new Error("the fixture does not decode")
const WithPayload = parsed.right.constructor
const BytesOnly = withoutPayload(parsed.right).constructor

/** Live instances of a class, after a full collection. */
const live = (constructor: unknown) => queryObjects(constructor as () => void, { format: "count" }) as number

describe("what a request holds while its file is synced", () => {
  it.scopedLive("requests waiting for the file's fdatasync hold no parsed payload, only their bytes", () =>
    Effect.gen(function*() {
      const held: Array<() => void> = []
      let holding = true
      const gate = Layer.succeed(
        DataSync,
        (path: string, handle: FileHandle) =>
          holding && path.endsWith("events.jsonl")
            ? new Promise<void>((resolve, reject) => held.push(() => handle.datasync().then(resolve, reject)))
            : handle.datasync()
      )
      const server = yield* startServer({ SINKS: "file" }, gate)
      const post = (index: number) =>
        server.post(JSON.stringify({ ...(template.json as object), id: `notif_held_${index}` }))

      const first = yield* Effect.fork(post(0))
      yield* eventually("the first batch's sync", Effect.sync(() => held.length), (n) => n === 1)
      const rest = yield* Effect.forEach([1, 2, 3, 4, 5, 6, 7], (index) => Effect.fork(post(index)))
      yield* eventually("8 requests past decoding", Effect.sync(() => live(BytesOnly)), (n) => n >= 8)

      assert.strictEqual(live(WithPayload), 0, "a request waiting for the sync still holds its parsed payload")

      holding = false
      for (const release of held.splice(0)) release()
      const answers = yield* Fiber.joinAll([first, ...rest])
      assert.deepStrictEqual(answers.map((answer) => answer.json.status), Array(8).fill("accepted"))
      assert.strictEqual((yield* server.records()).length, 8)
    }))
})
