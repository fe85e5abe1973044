import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sign } from "../src/pipeline/Signature.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { databaseUrl, freshDatabase, pgHost, pgPort } from "./support/Postgres.js"
import { spawnService } from "./support/Service.js"
import { requireService } from "./support/Services.js"
import { startTarget } from "./support/Target.js"

const up = await requireService("PostgreSQL", pgHost, pgPort)

const TOKEN = "console-pg-operator-token-0123456789"
const fixture = loadFixtures().find((candidate) => candidate.topic === "contacts.created")!

describe.runIf(up)("the operator console on a PostgreSQL store", () => {
  it.scopedLive(
    "counts, lists, replays and discards dead letters through the shared store",
    () =>
      Effect.gen(function*() {
        const database = yield* freshDatabase
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => mkdtempSync(join(tmpdir(), "console-pg-"))),
          (path) => Effect.sync(() => rmSync(path, { recursive: true, force: true }))
        )
        const control = { status: 400 }
        const target = yield* startTarget(() => control.status)
        const service = yield* spawnService({
          STORE_URL: databaseUrl(database),
          DATA_DIR: dir,
          SINKS: "http",
          HTTP_FORWARD_URL: target.url,
          CONSOLE_TOKEN: TOKEN,
          CONSOLE_PORT: "0",
          LOG_FORMAT: "json"
        })
        const consoleUrl = (yield* eventually(
          "the console's address",
          Effect.sync(() => /console listening on (http:\/\/[\d.]+:\d+)/.exec(service.stderr())),
          (match) => match !== null
        ))![1]!
        const call = (path: string, init: RequestInit = {}) =>
          Effect.promise(() =>
            fetch(`${consoleUrl}${path}`, {
              redirect: "manual",
              ...init,
              headers: { authorization: `Bearer ${TOKEN}`, accept: "application/json", ...init.headers }
            }).then(async (response) => ({ status: response.status, text: await response.text() }))
          )
        const post = (id: string) =>
          Effect.promise(() => {
            const body = Buffer.from(JSON.stringify({ ...(fixture.json as object), id }))
            return fetch(`${service.url}/webhooks/intercom`, {
              method: "POST",
              headers: { "content-type": "application/json", "x-hub-signature": sign("test-client-secret", body) },
              body
            }).then((response) => response.status)
          })
        const overview = Effect.map(
          call("/api/overview"),
          (answer) => JSON.parse(answer.text) as { deadLetters: { total: number; groups: Array<unknown> } }
        )

        assert.strictEqual(yield* post("pg-console-1"), 200)
        yield* eventually("a dead letter counted", overview, (found) => found.deadLetters.total === 1)
        assert.deepStrictEqual((yield* overview).deadLetters.groups, [{ sink: "http", reason: "rejected", count: 1 }])
        const page = yield* call("/dead-letters?sink=http", { headers: { accept: "text/html" } })
        assert.strictEqual(page.status, 200)
        assert.include(page.text, "pg-console-1")

        control.status = 200
        const before = target.requests.length
        const form = (fields: Record<string, string>) => ({ method: "POST", body: new URLSearchParams(fields) })
        assert.deepStrictEqual(JSON.parse((yield* call("/dead-letters/replay", form({ sink: "http" }))).text), {
          replayed: 1
        })
        const delivered = yield* eventually(
          "the replayed one delivered",
          Effect.sync(() => target.requests.slice(before)),
          (requests) => requests.length === 1
        )
        assert.include(delivered[0]!.body.toString(), "pg-console-1")

        control.status = 400
        assert.strictEqual(yield* post("pg-console-2"), 200)
        yield* eventually("a second dead letter", overview, (found) => found.deadLetters.total === 1)
        const discarded = yield* call("/dead-letters/discard", form({ sink: "http", confirmed: "yes" }))
        assert.deepStrictEqual(JSON.parse(discarded.text), { discarded: 1 })
        assert.strictEqual((yield* overview).deadLetters.total, 0)
      }),
    90_000
  )
})
