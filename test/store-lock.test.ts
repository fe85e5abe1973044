import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Scope } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { storeSettings } from "../src/config/ReceiverConfig.js"
import { Outbox } from "../src/store/Outbox.js"
import * as Store from "../src/store/Store.js"
import { loadFixtures } from "./support/Fixtures.js"
import { spawnService } from "./support/Service.js"
import { SECRET, startServer } from "./support/TestServer.js"

const template = loadFixtures().find((fixture) => fixture.topic === "conversations.closed")!.json as object
const notification = (id: string) => JSON.stringify({ ...template, id })

const root = new URL("..", import.meta.url).pathname

/** Runs the service as a process expected to stop by itself: its exit code and what it printed. */
const runToExit = (env: Record<string, string>) =>
  Effect.promise(() =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
        cwd: root,
        env: { ...process.env, HOST: "127.0.0.1", PORT: "0", INTERCOM_CLIENT_SECRET: SECRET, ...env },
        stdio: ["ignore", "ignore", "pipe"]
      })
      let stderr = ""
      child.stderr.on("data", (chunk: Buffer) => stderr += chunk.toString())
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000)
      child.once("exit", (code) => {
        clearTimeout(timer)
        resolve({ code, stderr })
      })
    })
  )

/** Opens the store of `dataDir` as `npm run replay` does, and counts its dead letters. */
const openAsTool = (dataDir: string) =>
  Effect.gen(function*() {
    const config = yield* storeSettings.pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["DATA_DIR", dataDir]])))
    )
    const outbox = yield* Layer.build(Store.layerWith(config, "tool")).pipe(Effect.map((context) => context.unsafeMap))
    return outbox.has(Outbox.key)
  }).pipe(Effect.scoped)

describe("one service per SQLite store", () => {
  it.scopedLive(
    "a second service on a store in use stops at start, saying what to do; a killed one leaves it free",
    () =>
      Effect.gen(function*() {
        const dataDir = mkdtempSync(join(tmpdir(), "lock-"))
        const first = yield* spawnService({ DATA_DIR: dataDir })

        const second = yield* runToExit({ DATA_DIR: dataDir })
        assert.strictEqual(second.code, 1, second.stderr)
        assert.include(second.stderr, `another running service uses the SQLite store ${join(dataDir, "receiver.db")}`)
        assert.include(second.stderr, "STORE_URL")
        assert.notInclude(second.stderr, "Listening on")

        assert.isTrue(yield* openAsTool(dataDir), "replay opens the store beside the running service")

        first.process.kill("SIGKILL")
        yield* Effect.promise(() => first.exited)
        const next = yield* startServer({ DATA_DIR: dataDir })
        const answer = yield* next.post(notification("notif_lock_1"))
        assert.strictEqual(answer.status, 200, answer.text)
      }),
    60_000
  )

  it.scopedLive("in one process: refused while the first is open, free once it has stopped", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "lock-"))
      const firstScope = yield* Scope.make()
      yield* Scope.extend(startServer({ DATA_DIR: dataDir }), firstScope)
      const refused = yield* Effect.flip(Effect.scoped(startServer({ DATA_DIR: dataDir })))
      assert.strictEqual(refused._tag, "StoreInUse")
      yield* Scope.close(firstScope, Exit.void)
      const again = yield* startServer({ DATA_DIR: dataDir })
      assert.strictEqual((yield* again.post(notification("notif_lock_2"))).status, 200)
    }))
})
