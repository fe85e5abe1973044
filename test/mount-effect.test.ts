import { HttpRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { createServer } from "node:http"
import { sign, Webhook } from "../src/index.js"
import type { HookContext } from "../src/index.js"

const SECRET = "effect-app-client-secret-0123456789"

const ping = (id: string) =>
  JSON.stringify({ type: "notification_event", topic: "ping", id, app_id: "a", data: { item: { type: "ping" } } })

describe("the webhook in an Effect app: Webhook.layer and Webhook.httpApp on @effect/platform's router", () => {
  it.live("a signed ping reaches its hook with the service's answer; a tampered one is 401; HEAD is 200", () =>
    Effect.gen(function*() {
      const calls: Array<HookContext> = []
      const app = HttpRouter.empty.pipe(HttpRouter.all("/intercom", Webhook.httpApp))
      const server = HttpServer.serve(app).pipe(
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provide(
          Webhook.layer({ secret: SECRET, hooks: { ping: (_, context) => calls.push(context) }, logLevel: "none" })
        )
      )
      const context = yield* Layer.build(server)
      const address = (yield* Effect.provide(HttpServer.HttpServer, context)).address as { port: number }
      const url = `http://127.0.0.1:${address.port}/intercom`
      const send = (body: string, signature = sign(SECRET, Buffer.from(body))) =>
        Effect.promise(() =>
          fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json", "x-hub-signature": signature },
            body
          }).then(async (response) => ({
            status: response.status,
            type: response.headers.get("content-type"),
            json: (await response.json()) as Record<string, unknown>
          }))
        )
      const accepted = yield* send(ping("notif_effect"))
      assert.strictEqual(accepted.status, 200)
      assert.strictEqual(accepted.type, "application/json")
      assert.deepInclude(accepted.json, { status: "accepted", topic: "ping", id: "notif_effect" })
      assert.strictEqual(calls[0]?.id, "notif_effect")
      const tampered = yield* send(ping("notif_other"), sign(SECRET, Buffer.from(ping("notif_effect"))))
      assert.strictEqual(tampered.status, 401)
      assert.strictEqual((yield* send(ping("notif_effect"))).json.status, "duplicate")
      const head = yield* Effect.promise(() => fetch(url, { method: "HEAD" }))
      assert.strictEqual(head.status, 200)
      assert.strictEqual(calls.length, 1)
    }).pipe(Effect.scoped))

  it.effect("options that cannot work fail the layer, every problem named", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Layer.build(Webhook.layer({ secret: [], hooks: { ping: 1 as never } })).pipe(Effect.scoped)
      )
      assert.isTrue(Exit.isFailure(exit))
      const message = String(Exit.isFailure(exit) ? exit.cause : "")
      assert.include(message, "secret is required")
      assert.include(message, "hooks[\"ping\"] must be a function")
    }))
})
