import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import type { NotificationBytes } from "../src/pipeline/Notification.js"
import * as MemoryOutbox from "../src/store/MemoryOutbox.js"
import { Outbox } from "../src/store/Outbox.js"

const notification = (id: string): NotificationBytes => ({
  receivedAt: new Date(),
  topic: "ping",
  intercomTopic: "ping",
  id,
  appId: null,
  body: new Uint8Array(),
  deliveryKey: `notification:${id}`,
  schemaMismatch: undefined
})

describe("the memory store of a mounted webhook without a store", () => {
  it.effect("remembers ids for the window, at most MAX_REMEMBERED_IDS of them, oldest forgotten first", () =>
    Effect.gen(function*() {
      const outbox = yield* Outbox
      assert.strictEqual(yield* outbox.accept(notification("first"), []), "accepted")
      assert.strictEqual(yield* outbox.accept(notification("first"), []), "duplicate")
      assert.isTrue(yield* outbox.seen("first"))
      for (let index = 0; index < MemoryOutbox.MAX_REMEMBERED_IDS; index++) {
        yield* outbox.accept(notification(`id_${index}`), [])
      }
      assert.isFalse(yield* outbox.seen("first"))
      assert.isTrue(yield* outbox.seen("id_1"))
      assert.strictEqual(
        yield* outbox.accept(notification(`id_${MemoryOutbox.MAX_REMEMBERED_IDS - 1}`), []),
        "duplicate"
      )
    }).pipe(Effect.provide(MemoryOutbox.layer(Duration.hours(24)))))

  it.live("forgets an id once its window is over", () =>
    Effect.gen(function*() {
      const outbox = yield* Outbox
      assert.strictEqual(yield* outbox.accept(notification("brief"), []), "accepted")
      assert.strictEqual(yield* outbox.accept(notification("brief"), []), "duplicate")
      yield* Effect.sleep("150 millis")
      assert.isFalse(yield* outbox.seen("brief"))
      assert.strictEqual(yield* outbox.accept(notification("brief"), []), "accepted")
    }).pipe(Effect.provide(MemoryOutbox.layer(Duration.millis(100)))))

  it.effect("refuses to queue a delivery, saying to choose a durable store", () =>
    Effect.gen(function*() {
      const outbox = yield* Outbox
      const error = yield* Effect.flip(outbox.accept(notification("queued"), ["hooks"]))
      assert.include(error.message, "choose a durable store")
      assert.isFalse(yield* outbox.seen("queued"))
    }).pipe(Effect.provide(MemoryOutbox.layer(Duration.hours(24)))))
})
