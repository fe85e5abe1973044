import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { HookContext, WebhookOptions } from "../src/web.js"
import { sign } from "../src/web.js"
import { type Mounted, mountIn } from "./support/Mounts.js"
import { databaseUrl, freshDatabase, pgHost, pgPort } from "./support/Postgres.js"
import { requireService } from "./support/Services.js"

const up = await requireService("PostgreSQL", pgHost, pgPort)
const SECRET = "mounted-webhook-secret-0123456789"

const closed = (id: string, conversation: string) =>
  JSON.stringify({
    type: "notification_event",
    topic: "conversation.admin.closed",
    id,
    app_id: "app1",
    data: { item: { type: "conversation", id: conversation } }
  })

const post = (url: string, body: string) =>
  Effect.promise(() =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature": sign(SECRET, Buffer.from(body)) },
      body
    }).then(async (response) => ({ status: response.status, json: (await response.json()) as Record<string, unknown> }))
  )

describe.skipIf(!up)("the webhook mounted in two apps sharing a PostgreSQL store", () => {
  it.live(
    "each notification's hook runs once across both, in order per conversation; copies are duplicates",
    () =>
      Effect.gen(function*() {
        const database = yield* freshDatabase
        const calls: Array<{ app: string; context: HookContext }> = []
        const options = (app: string): WebhookOptions => ({
          secret: SECRET,
          store: { postgres: databaseUrl(database) },
          logLevel: "none",
          hooks: { "conversations.closed": (_, context) => void calls.push({ app, context }) }
        })
        const apps: Array<Mounted> = []
        yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(apps.map((app) => app.close()))))
        apps.push(yield* Effect.promise(() => mountIn("node:http", options("a"))))
        apps.push(yield* Effect.promise(() => mountIn("hono", options("b"))))
        const sent = Array.from(
          { length: 40 },
          (_, index) => ({ id: `notif_${index}`, conversation: `conv_${index % 5}` })
        )
        for (const [index, { conversation, id }] of sent.entries()) {
          const answer = yield* post(apps[index % 2]!.url, closed(id, conversation))
          assert.strictEqual(answer.status, 200)
          assert.deepStrictEqual(answer.json.queued, ["hooks"])
        }
        const copy = yield* post(apps[1]!.url, closed("notif_0", "conv_0"))
        assert.strictEqual(copy.json.status, "duplicate")
        const deadline = Date.now() + 30_000
        while (calls.length < sent.length && Date.now() < deadline) yield* Effect.sleep("50 millis")
        yield* Effect.sleep("300 millis")
        assert.sameMembers(calls.map(({ context }) => context.id), sent.map(({ id }) => id))
        assert.strictEqual(calls.length, sent.length)
        for (const conversation of new Set(sent.map((one) => one.conversation))) {
          const order = calls.filter(({ context }) => context.itemId === conversation).map(({ context }) => context.id)
          const expected = sent.filter((one) => one.conversation === conversation).map((one) => one.id)
          assert.deepStrictEqual(order, expected, conversation)
        }
      }).pipe(Effect.scoped),
    60_000
  )
})
