import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Option, Redacted } from "effect"
import { execFile } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { reconcileSettings } from "../src/config/ReconcileConfig.js"

const root = new URL("..", import.meta.url).pathname

const read = (env: Record<string, string>) =>
  Effect.either(Effect.withConfigProvider(reconcileSettings, ConfigProvider.fromMap(new Map(Object.entries(env)))))

const errorOf = (env: Record<string, string>) =>
  Effect.map(read(env), (result) => Either.isLeft(result) ? String(result.left) : "no error")

/** The environment of a child, without the settings of whoever runs the tests. */
const inherited = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !key.startsWith("INTERCOM_") && !key.startsWith("RECONCILE_"))
)

const run = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, ["--import", "tsx", ...args], {
      cwd: root,
      timeout: 60_000,
      env: { ...inherited, HOST: "127.0.0.1", PORT: "0", DATA_DIR: mkdtempSync(join(tmpdir(), "rc-")), ...env }
    }, (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }))
  )

const TOKEN = "dG9rOmZha2UtdG9rZW4tdGhhdC1tdXN0LW5ldmVyLWJlLXNob3du"

describe("gap recovery's settings", () => {
  it.effect("off without a token; the defaults otherwise", () =>
    Effect.gen(function*() {
      const off = Either.getOrThrow(yield* read({}))
      assert.deepStrictEqual(off.workspaces, [])
      const on = Either.getOrThrow(yield* read({ INTERCOM_ACCESS_TOKEN: TOKEN }))
      assert.deepStrictEqual(on.workspaces.map((workspace) => workspace.key), ["default"])
      assert.strictEqual(Redacted.value(on.workspaces[0]!.token), TOKEN)
      assert.notInclude(String(on.workspaces[0]!.token), TOKEN)
      assert.strictEqual(on.apiUrl.toString(), "https://api.intercom.io/")
      assert.strictEqual(on.intercomVersion, "2.14")
      assert.strictEqual(Duration.toSeconds(on.gap), 60)
      assert.deepStrictEqual(Option.map(on.interval, Duration.toMinutes), Option.some(15))
      assert.strictEqual(on.deletions, "gap")
      const eu = Either.getOrThrow(
        yield* read({ INTERCOM_ACCESS_TOKEN: TOKEN, INTERCOM_API_URL: "https://api.eu.intercom.io" })
      )
      assert.strictEqual(eu.apiUrl.host, "api.eu.intercom.io")
      const never = Either.getOrThrow(yield* read({ INTERCOM_ACCESS_TOKEN: TOKEN, RECONCILE_INTERVAL: "off" }))
      assert.isTrue(Option.isNone(never.interval))
    }))

  it.effect("a token per app_id, for an app installed in several workspaces", () =>
    Effect.gen(function*() {
      const config = Either.getOrThrow(yield* read({ INTERCOM_ACCESS_TOKENS: "abc123=tok-one, xyz789=tok-two" }))
      assert.deepStrictEqual(
        config.workspaces.map((workspace) => [workspace.key, Redacted.value(workspace.token)]),
        [["abc123", "tok-one"], ["xyz789", "tok-two"]]
      )
    }))

  it.effect("a wrong value is refused, naming the setting, never showing a token", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[Record<string, string>, string]> = [
        [
          { INTERCOM_ACCESS_TOKEN: TOKEN, INTERCOM_ACCESS_TOKENS: "a=b" },
          "INTERCOM_ACCESS_TOKENS and INTERCOM_ACCESS_TOKEN are both set"
        ],
        [{ INTERCOM_ACCESS_TOKENS: TOKEN }, "INTERCOM_ACCESS_TOKENS entry 1 must be app_id=token"],
        [{ INTERCOM_ACCESS_TOKENS: `a=${TOKEN},a=other` }, "INTERCOM_ACCESS_TOKENS names app_id a twice"],
        [{ INTERCOM_ACCESS_TOKEN: `has space ${TOKEN}` }, "INTERCOM_ACCESS_TOKEN must be an access token"],
        [{ INTERCOM_API_URL: "ftp://api.intercom.io" }, "INTERCOM_API_URL must be an https:// URL"],
        [{ INTERCOM_API_URL: `https://user:${TOKEN}@api.intercom.io` }, "INTERCOM_API_URL must not hold a user"],
        [{ INTERCOM_VERSION: "3.0" }, "INTERCOM_VERSION must be an API version from 1.0 to 2.14"],
        [{ RECONCILE_INTERVAL: "1s" }, "RECONCILE_INTERVAL must be off or a duration from 10s to 7d"],
        [{ RECONCILE_GAP: "0s" }, "RECONCILE_GAP must be from 1s to 24h"],
        [{ RECONCILE_BUDGET: "forever" }, "RECONCILE_BUDGET must be a duration"],
        [{ RECONCILE_DELETIONS: "sometimes" }, "RECONCILE_DELETIONS must be one of gap, always, off"],
        [{ RECONCILE_CONCURRENCY: "0" }, "RECONCILE_CONCURRENCY must be a whole number from 1 to 64"]
      ]
      for (const [env, message] of cases) {
        const error = yield* errorOf(env)
        assert.include(error, message)
        assert.notInclude(error, TOKEN)
      }
    }))

  it.live(
    "the service refuses a token without the mirror sink, in one line naming the fix",
    () =>
      Effect.promise(async () => {
        const result = await run(["src/main.ts"], {
          INTERCOM_CLIENT_SECRET: "test-client-secret",
          SINKS: "console",
          INTERCOM_ACCESS_TOKEN: TOKEN
        })
        assert.strictEqual(result.code, 1, result.stderr)
        const errors = result.stderr.split("\n").filter((line) => line.length > 0 && !line.startsWith("{"))
        assert.deepStrictEqual(errors, [
          "Configuration error: INTERCOM_ACCESS_TOKEN is set, but SINKS has no mirror: gap recovery repairs the " +
          "mirror's tables; add mirror to SINKS or unset it"
        ])
        assert.notInclude(result.stderr, TOKEN)
      }),
    60_000
  )

  it.live(
    "npm run reconcile refuses what it would guess at: exit 2 and the usage line",
    () =>
      Effect.promise(async () => {
        const cases: ReadonlyArray<[ReadonlyArray<string>, Record<string, string>, string]> = [
          [[], { INTERCOM_ACCESS_TOKEN: TOKEN }, "--since is required"],
          [["--since", "yesterday"], { INTERCOM_ACCESS_TOKEN: TOKEN }, "--since must be an ISO 8601 date or time"],
          [["--since", "2026-01-10", "--until", "2026-01-09"], { INTERCOM_ACCESS_TOKEN: TOKEN }, "--until must be"],
          [["--since", "2026-01-10"], {}, "no access token: set INTERCOM_ACCESS_TOKEN"],
          [
            ["--since", "2026-01-10", "--app-id", "zzz"],
            { INTERCOM_ACCESS_TOKENS: "abc=tok" },
            "--app-id zzz has no token"
          ],
          [["--since", "2026-01-10"], { INTERCOM_ACCESS_TOKEN: TOKEN }, "no store at"],
          [["--since", "2026-01-10"], { INTERCOM_VERSION: "9" }, "Configuration error: INTERCOM_VERSION"]
        ]
        const results = await Promise.all(cases.map(([args, env]) => run(["scripts/reconcile.ts", ...args], env)))
        cases.forEach(([, , message], index) => {
          const result = results[index]!
          const context = JSON.stringify(result)
          assert.strictEqual(result.code, 2, context)
          const lines = result.stderr.trimEnd().split("\n")
          assert.lengthOf(lines, 2, context)
          assert.include(lines[0], `reconcile: ${message}`, context)
          assert.match(lines[1]!, /^usage: npm run reconcile /, context)
          assert.notInclude(result.stderr, TOKEN)
        })
      }),
    120_000
  )
})
