import { afterEach, assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { HookContext, Hooks, WebhookOptions } from "../src/web.js"
import { sign } from "../src/web.js"
import { corpusDir, loadFixtures } from "./support/Fixtures.js"
import { type Framework, type Mounted, mountIn } from "./support/Mounts.js"

const SECRET = "mounted-webhook-secret-0123456789"
const corpus = loadFixtures(corpusDir)

interface Call {
  readonly hook: string
  readonly value: unknown
  readonly context: HookContext
}

/** Hooks for every topic and `*`, each recording what it was given. */
const recording = (calls: Array<Call>, fail?: (hook: string, context: HookContext) => void): Hooks => {
  const hook = (name: string) => (value: unknown, context: HookContext) => {
    calls.push({ hook: name, value, context })
    fail?.(name, context)
  }
  return {
    "contacts.created": hook("contacts.created"),
    "contacts.deleted": hook("contacts.deleted"),
    "contacts.tagCreated": hook("contacts.tagCreated"),
    "conversations.assigned": hook("conversations.assigned"),
    "conversations.closed": hook("conversations.closed"),
    "conversations.created": hook("conversations.created"),
    "ping": hook("ping"),
    "*": hook("*")
  }
}

const post = async (
  url: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
  method = "POST"
) => {
  const response = await fetch(url, {
    method,
    headers: { "content-type": "application/json", "x-hub-signature": sign(SECRET, Buffer.from(body)), ...headers },
    ...(method === "HEAD" || method === "GET" ? {} : { body })
  })
  const text = await response.text()
  return {
    status: response.status,
    headers: response.headers,
    json: (text === "" ? undefined : JSON.parse(text)) as Record<string, unknown> | undefined
  }
}

const notification = (topic: string, id: string, item: Record<string, unknown> = { type: "contact", id: "c1" }) =>
  JSON.stringify({ type: "notification_event", topic, id, app_id: "app1", created_at: 1700000000, data: { item } })

const eventually = async (what: string, done: () => boolean, withinMs = 15_000) => {
  const until = Date.now() + withinMs
  while (!done()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const open: Array<Mounted> = []
const mount = async (framework: Framework, options: WebhookOptions) => {
  const mounted = await mountIn(framework, options)
  open.push(mounted)
  return mounted
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((mounted) => mounted.close()))
})

const frameworks: ReadonlyArray<Framework> = ["hono", "node:http", "express", "fastify"]

describe.each(frameworks)("the webhook mounted in %s, hooks before the answer", (framework) => {
  it("every notification of the corpus reaches one hook: its topic's, typed, or * when it does not match", async () => {
    const calls: Array<Call> = []
    const { url } = await mount(framework, { secret: SECRET, hooks: recording(calls), logLevel: "none" })
    for (const sent of corpus) {
      const answer = await post(url, sent.bytes)
      assert.strictEqual(answer.status, 200, `${sent.topic}/${sent.file}: ${JSON.stringify(answer.json)}`)
      assert.strictEqual(answer.json?.status, "accepted", sent.file)
      const call = calls.at(-1)!
      const body = sent.json as { id?: string; topic: string }
      assert.strictEqual(call.context.intercomTopic, body.topic, sent.file)
      assert.strictEqual(call.hook, answer.json?.schema === "mismatch" ? "*" : sent.topic, sent.file)
      assert.deepStrictEqual(call.value, sent.json, sent.file)
      assert.deepStrictEqual(Buffer.from(call.context.body), sent.bytes, sent.file)
    }
    assert.strictEqual(calls.length, corpus.length)
    assert.isAbove(calls.filter((call) => call.hook !== "*").length, corpus.length / 2)
  })

  it("refuses what Intercom did not sign as sent, before any hook: tampered, re-encoded, unsigned, other secret", async () => {
    const calls: Array<Call> = []
    const { url } = await mount(framework, { secret: SECRET, hooks: recording(calls), logLevel: "none" })
    const body = notification("contact.user.created", "notif_sig")
    const signature = sign(SECRET, Buffer.from(body))
    const reEncoded = JSON.stringify(JSON.parse(body), null, 2)
    for (
      const [what, sent, headers] of [
        ["tampered", body.replace("c1", "c2"), { "x-hub-signature": signature }],
        ["re-encoded by a JSON parser", reEncoded, { "x-hub-signature": signature }],
        ["other secret", body, { "x-hub-signature": sign("another-secret-0123456789", Buffer.from(body)) }],
        ["malformed header", body, { "x-hub-signature": "sha256=abc" }]
      ] as const
    ) {
      const answer = await post(url, sent, headers)
      assert.strictEqual(answer.status, 401, what)
      assert.strictEqual(answer.json?.error, "invalid_signature", what)
    }
    const unsigned = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body })
    assert.strictEqual(unsigned.status, 401)
    assert.include(await unsigned.text(), "missing X-Hub-Signature")
    assert.strictEqual(calls.length, 0)
  })

  it("takes several secrets while rotating: a body signed with either is accepted, with neither refused", async () => {
    const calls: Array<Call> = []
    const next = "next-rotated-secret-0123456789"
    const { url } = await mount(framework, { secret: [SECRET, next], hooks: recording(calls), logLevel: "none" })
    const body = notification("ping", "notif_rotation", { type: "ping" })
    assert.strictEqual((await post(url, body)).status, 200)
    const other = notification("ping", "notif_rotation_next", { type: "ping" })
    assert.strictEqual((await post(url, other, { "x-hub-signature": sign(next, Buffer.from(other)) })).status, 200)
    const third = notification("ping", "notif_rotation_old", { type: "ping" })
    const refused = await post(url, third, { "x-hub-signature": sign("retired-secret-0123456789", Buffer.from(third)) })
    assert.strictEqual(refused.status, 401)
    assert.deepStrictEqual(calls.map((call) => call.context.id), ["notif_rotation", "notif_rotation_next"])
  })

  it("answers as the service does: HEAD 200, other methods 405, wrong type 415, too large 413, not JSON 400", async () => {
    const calls: Array<Call> = []
    const { url } = await mount(framework, {
      secret: SECRET,
      hooks: recording(calls),
      maxBodyBytes: 2000,
      logLevel: "none"
    })
    assert.strictEqual((await post(url, "", {}, "HEAD")).status, 200)
    const get = await post(url, "", {}, "GET")
    assert.strictEqual(get.status, 405)
    assert.strictEqual(get.headers.get("allow"), "POST, HEAD")
    assert.strictEqual((await post(url, "{}", { "content-type": "text/plain" })).status, 415)
    const large = notification("ping", "notif_large", { type: "ping", message: "x".repeat(3000) })
    const tooLarge = await post(url, large)
    assert.strictEqual(tooLarge.status, 413)
    assert.strictEqual(tooLarge.json?.error, "payload_too_large")
    const notJson = await post(url, "{not json")
    assert.strictEqual(notJson.status, 400)
    assert.strictEqual(notJson.json?.error, "malformed_notification")
    assert.strictEqual(calls.length, 0)
  })

  it("a topic without a schema goes to *; a copy of an id already handled is a duplicate, its hook not called again", async () => {
    const calls: Array<Call> = []
    const { url } = await mount(framework, { secret: SECRET, hooks: recording(calls), logLevel: "none" })
    const other = await post(url, notification("visitor.signed_up", "notif_visitor", { type: "visitor", id: "v1" }))
    assert.strictEqual(other.status, 200)
    assert.strictEqual(calls[0]?.hook, "*")
    assert.strictEqual(calls[0]?.context.topic, null)
    const body = notification("contact.user.created", "notif_twice", { type: "contact", id: "c1", role: "user" })
    const first = await post(url, body)
    const second = await post(url, body)
    assert.strictEqual(first.json?.status, "accepted")
    assert.strictEqual(second.status, 200)
    assert.strictEqual(second.json?.status, "duplicate")
    assert.deepStrictEqual(calls.map((call) => call.hook), ["*", "contacts.created"])
  })

  it("a hook that throws answers 503 so that Intercom sends it again; the copy sent again is handled", async () => {
    const calls: Array<Call> = []
    let failing = true
    const { url } = await mount(framework, {
      secret: SECRET,
      hooks: recording(calls, () => {
        if (failing) throw new Error("database down")
      }),
      logLevel: "none"
    })
    const body = notification("conversation.admin.closed", "notif_retry", { type: "conversation", id: "conv1" })
    const refused = await post(url, body)
    assert.strictEqual(refused.status, 503)
    assert.strictEqual(refused.json?.error, "sink_unavailable")
    assert.strictEqual(refused.headers.get("retry-after"), "60")
    failing = false
    const again = await post(url, body)
    assert.strictEqual(again.status, 200)
    assert.strictEqual(again.json?.status, "accepted")
    assert.strictEqual(calls.length, 2)
  })
})

describe("a body parsed before the webhook", () => {
  it("Express with express.json() first: 500 naming the fix, never a signature checked over re-encoded JSON", async () => {
    const express = (await import("express")).default
    const { createNodeMiddleware } = await import("../src/node.js")
    const calls: Array<Call> = []
    const middleware = createNodeMiddleware({ secret: SECRET, hooks: recording(calls), logLevel: "none" })
    const app = express()
    app.use(express.json())
    app.post("/hook", middleware)
    const { createServer } = await import("node:http")
    const server = createServer(app)
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as { port: number }).port
    open.push({
      url: "",
      close: async () => {
        await new Promise((done) => server.close(done))
        await middleware.close()
      }
    })
    const answer = await post(`http://127.0.0.1:${port}/hook`, notification("ping", "notif_parsed"))
    assert.strictEqual(answer.status, 500)
    assert.strictEqual(answer.json?.error, "body_already_parsed")
    assert.include(answer.json?.message as string, "express.raw")
    assert.strictEqual(calls.length, 0)
  })
})

describe("a web request whose body was read before the handler", () => {
  it("is refused with a 500 naming the fix, its hooks not called", async () => {
    const { createWebhookHandler } = await import("../src/web.js")
    const calls: Array<Call> = []
    const handler = createWebhookHandler({ secret: SECRET, hooks: recording(calls), logLevel: "none" })
    try {
      const body = notification("ping", "notif_read_before")
      const request = new Request("http://127.0.0.1/api/intercom", {
        method: "POST",
        headers: { "content-type": "application/json", "x-hub-signature": sign(SECRET, Buffer.from(body)) },
        body
      })
      await request.json()
      const response = await handler(request)
      assert.strictEqual(response.status, 500)
      const answer = (await response.json()) as { error: string; message: string }
      assert.strictEqual(answer.error, "body_already_parsed")
      assert.include(answer.message, "before anything reads its body")
      assert.strictEqual(calls.length, 0)
    } finally {
      await handler.close()
    }
  })
})

describe("options that cannot work", () => {
  it("are answered 500 with every problem named, and never a secret", async () => {
    const { url } = await mount("node:http", {
      secret: "",
      hooks: { "conversation.admin.closed": () => {} } as unknown as Hooks,
      store: { postgres: "mysql://user:hunter2@db/x" },
      maxBodyBytes: -1,
      logLevel: "none"
    })
    const answer = await post(url, notification("ping", "notif_misconfigured"))
    assert.strictEqual(answer.status, 500)
    assert.strictEqual(answer.json?.error, "misconfigured")
    const message = answer.json?.message as string
    assert.include(message, "secret is required")
    assert.include(message, "\"conversations.closed\"")
    assert.include(message, "store.postgres must be a postgres://")
    assert.include(message, "maxBodyBytes")
    assert.notInclude(message, "hunter2")
  })
})

describe.each(["hono", "node:http"] as const)("the webhook mounted in %s with a SQLite store", (framework) => {
  it("answers 200 once committed, calls the hooks after, retries a failing one, and loses nothing across a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mounted-"))
    try {
      const path = join(dir, "webhooks.db")
      const calls: Array<Call> = []
      let failures = 0
      const options = (failUntil: number): WebhookOptions => ({
        secret: SECRET,
        store: { sqlite: path },
        logLevel: "none",
        hooks: recording(calls, (hook) => {
          if (hook === "conversations.closed" && failures++ < failUntil) throw new Error("downstream down")
        })
      })
      const first = await mount(framework, options(Number.POSITIVE_INFINITY))
      const body = notification("conversation.admin.closed", "notif_durable", { type: "conversation", id: "conv9" })
      const answer = await post(first.url, body)
      assert.strictEqual(answer.status, 200)
      assert.deepStrictEqual(answer.json?.queued, ["hooks"])
      await eventually("a first failing call", () => calls.length >= 1)
      await open.splice(0).at(0)!.close()
      const seen = calls.length
      failures = 0
      const second = await mount(framework, options(1))
      await eventually("the hook to succeed after the restart", () => failures >= 2)
      assert.isAbove(calls.length, seen)
      assert.isTrue(calls.every((call) => call.hook === "conversations.closed" && call.context.id === "notif_durable"))
      const copy = await post(second.url, body)
      assert.strictEqual(copy.json?.status, "duplicate")
    } finally {
      await Promise.all(open.splice(0).map((mounted) => mounted.close()))
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a notification that does not match its topic's schema, for a typed hook and no *, becomes a dead letter", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mounted-"))
    try {
      const path = join(dir, "webhooks.db")
      const calls: Array<Call> = []
      const { "*": _, ...typed } = recording(calls)
      const mounted = await mount(framework, {
        secret: SECRET,
        store: { sqlite: path },
        logLevel: "none",
        hooks: typed
      })
      const body = notification("conversation.admin.closed", "notif_mismatch", { type: "conversation", id: 42 })
      const answer = await post(mounted.url, body)
      assert.strictEqual(answer.json?.schema, "mismatch")
      assert.deepStrictEqual(answer.json?.queued, ["hooks"])
      const deadLetters = () => {
        const db = new Database(path, { readonly: true })
        try {
          return db.prepare("SELECT sink, reason, notification_id AS id FROM dead_letters").all()
        } finally {
          db.close()
        }
      }
      await eventually("the dead letter", () => deadLetters().length > 0)
      assert.deepStrictEqual(deadLetters(), [{ sink: "hooks", reason: "rejected", id: "notif_mismatch" }])
      assert.strictEqual(calls.length, 0)
    } finally {
      await Promise.all(open.splice(0).map((mounted) => mounted.close()))
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
