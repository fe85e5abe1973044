/**
 * The examples in examples/ as a team runs them: the package packed (`npm run pack`), each example's `npm install` of
 * the tarball, `npm run build`, `npm start` on a free port; then the signed notifications of every topic and the cases
 * frameworks get wrong, checked by the answers and by what the example's hooks handed on to a downstream server.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { promisify } from "node:util"
import { sign } from "../src/pipeline/Signature.js"
import { corpusDir, loadFixtures } from "./support/Fixtures.js"

const run = promisify(execFile)
const root = new URL("..", import.meta.url).pathname
const examplesDir = join(root, "examples")
/** `EXAMPLES=hono,express` runs only those. */
const only = process.env.EXAMPLES?.split(",")
const examples = readdirSync(examplesDir).filter((name) =>
  existsSync(join(examplesDir, name, "package.json")) && (only === undefined || only.includes(name))
).sort()
const SECRET = "example-client-secret-0123456789"
/** Loaded only by the entry points and options that use them: an app that does not must not install them. */
const optionalPeers = [
  "better-sqlite3",
  "pg",
  "amqplib",
  "ioredis",
  "@nats-io/transport-node",
  "undici",
  "@effect/platform-node",
  "intercom-client"
]
const corpus = loadFixtures(corpusDir)

interface Event {
  readonly hook: string
  readonly id: string | null
  readonly intercomTopic: string
  readonly itemId: string | null
}

/** The service an example's hooks hand events on to: records them, or answers 503 while `down`. */
const downstream = async () => {
  const events: Array<Event> = []
  const state = { down: false }
  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      if (state.down) return void response.writeHead(503).end()
      events.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as Event)
      response.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return { server, events, state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events` }
}

const freePort = async () => {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

const post = async (url: string, body: string | Uint8Array, signature = sign(SECRET, Buffer.from(body))) => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-hub-signature": signature },
    body
  })
  return { status: response.status, json: (await response.json()) as Record<string, unknown> }
}

const notification = (topic: string, id: string, item: Record<string, unknown>) =>
  JSON.stringify({ type: "notification_event", topic, id, app_id: "app1", created_at: 1700000000, data: { item } })

const until = async (what: string, done: () => Promise<boolean> | boolean, withinMs = 90_000) => {
  const deadline = Date.now() + withinMs
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

beforeAll(async () => {
  await run("npm", ["run", "pack"], { cwd: root })
  for (const example of examples) {
    const cwd = join(examplesDir, example)
    await run("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock"], { cwd })
    await run("npm", ["run", "build"], { cwd, env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } })
  }
}, 900_000)

describe.each(examples)("examples/%s, installed from the packed tarball", (example) => {
  let app: ChildProcess
  let output = ""
  let url: string
  let target: Awaited<ReturnType<typeof downstream>>

  beforeAll(async () => {
    target = await downstream()
    const port = await freePort()
    app = spawn("npm", ["start"], {
      cwd: join(examplesDir, example),
      detached: true,
      env: {
        ...process.env,
        PORT: String(port),
        INTERCOM_CLIENT_SECRET: SECRET,
        DOWNSTREAM_URL: target.url,
        NEXT_TELEMETRY_DISABLED: "1"
      }
    })
    app.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    app.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    url = `http://127.0.0.1:${port}/api/intercom`
    await until(`${example} to answer HEAD ${url}\n${output}`, async () => {
      try {
        return (await fetch(url, { method: "HEAD" })).status === 200
      } catch {
        return false
      }
    })
  }, 120_000)

  afterAll(async () => {
    if (app.pid !== undefined && app.exitCode === null) {
      const exited = new Promise((resolve) => app.once("exit", resolve))
      process.kill(-app.pid, "SIGTERM")
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
      if (app.exitCode === null) process.kill(-app.pid, "SIGKILL")
    }
    await new Promise((resolve) => target.server.close(resolve))
  })

  it("installs only what its entry points need: no database driver, broker client or the service's platform", () => {
    const installed = optionalPeers.filter((name) => existsSync(join(examplesDir, example, "node_modules", name)))
    assert.deepStrictEqual(installed, [])
  })

  it("every notification of the corpus is accepted and handed on by its topic's hook, or by * when it does not match", async () => {
    for (const sent of corpus) {
      const before = target.events.length
      const answer = await post(url, sent.bytes)
      assert.strictEqual(answer.status, 200, `${sent.file}: ${JSON.stringify(answer.json)}\n${output}`)
      assert.strictEqual(answer.json.status, "accepted", sent.file)
      assert.strictEqual(target.events.length, before + 1, sent.file)
      const event = target.events.at(-1)!
      const body = sent.json as { id?: string | null; topic: string; data: { item: { id?: unknown } } }
      assert.strictEqual(event.hook, answer.json.schema === "mismatch" ? "*" : sent.topic, sent.file)
      assert.strictEqual(event.intercomTopic, body.topic, sent.file)
      assert.strictEqual(event.id, body.id ?? null, sent.file)
      const itemId = body.data.item.id
      assert.strictEqual(event.itemId, itemId === undefined || itemId === null ? null : String(itemId), sent.file)
    }
  })

  it("refuses a tampered body, a body re-encoded by a JSON parser and a missing signature; hands nothing on", async () => {
    const before = target.events.length
    const body = notification("conversation.admin.closed", `notif_${example}_sig`, { type: "conversation", id: "1" })
    const signature = sign(SECRET, Buffer.from(body))
    assert.strictEqual((await post(url, body.replace("\"1\"", "\"2\""), signature)).status, 401)
    assert.strictEqual((await post(url, JSON.stringify(JSON.parse(body), null, 1), signature)).status, 401)
    const unsigned = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body })
    assert.strictEqual(unsigned.status, 401)
    assert.strictEqual(target.events.length, before)
  })

  it("an unknown topic goes to *; a duplicate id is answered duplicate and handed on once", async () => {
    const before = target.events.length
    const other = await post(url, notification("visitor.signed_up", `notif_${example}_v`, { type: "visitor", id: "v" }))
    assert.strictEqual(other.status, 200)
    assert.strictEqual(target.events.at(-1)?.hook, "*")
    const deleted = corpus.find((sent) => sent.topic === "contacts.deleted")!.json as object
    const body = JSON.stringify({ ...deleted, id: `notif_${example}_dup` })
    assert.strictEqual((await post(url, body)).json.status, "accepted")
    assert.strictEqual((await post(url, body)).json.status, "duplicate")
    assert.deepStrictEqual(target.events.slice(before).map((event) => event.hook), ["*", "contacts.deleted"])
  })

  it("a hook that fails (its downstream answers 503) answers 503; sent again once it recovers, it is handed on", async () => {
    const body = notification("conversation.user.created", `notif_${example}_retry`, { type: "conversation", id: "7" })
    target.state.down = true
    const refused = await post(url, body)
    target.state.down = false
    assert.strictEqual(refused.status, 503)
    const again = await post(url, body)
    assert.strictEqual(again.status, 200)
    assert.strictEqual(again.json.status, "accepted")
    assert.deepInclude(target.events.at(-1), { hook: "conversations.created", itemId: "7" })
  })
})
