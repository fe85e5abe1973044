import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll } from "vitest"
import { fixturesDir } from "./support/Fixtures.js"

const run = promisify(execFile)
const root = new URL("..", import.meta.url).pathname

const codegen = async (fixtures: string, out: string, ...flags: ReadonlyArray<string>) => {
  try {
    const { stderr, stdout } = await run(
      join(root, "node_modules/.bin/tsx"),
      ["scripts/codegen.ts", "--fixtures", fixtures, "--out", out, ...flags],
      { cwd: root }
    )
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(readdirSync(dir).sort().map((file) => [file, readFileSync(join(dir, file), "utf8")]))

// Each case runs the generator as a user does, several times over: give a busy machine room.
describe("npm run codegen", { timeout: 180_000 }, () => {
  let work: string
  let fixtures: string
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "codegen-"))
    fixtures = join(work, "fixtures")
    cpSync(fixturesDir, fixtures, { recursive: true })
  })
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it("writes the same bytes as the committed src/generated, and the same bytes on a second run", async () => {
    const first = join(work, "first")
    const second = join(work, "second")
    assert.strictEqual((await codegen(fixtures, first)).code, 0)
    assert.strictEqual((await codegen(fixtures, second)).code, 0)
    assert.deepStrictEqual(snapshot(first), snapshot(second))
    assert.deepStrictEqual(snapshot(first), snapshot(join(root, "src/generated")))
  })

  it("--check fails naming the stale file after a fixture changes, and passes after regenerating", async () => {
    const out = join(work, "check")
    assert.strictEqual((await codegen(fixtures, out)).code, 0)
    assert.strictEqual((await codegen(fixtures, out, "--check")).code, 0)
    const before = snapshot(out)

    const file = join(fixtures, "ping", "ping.json")
    const ping = JSON.parse(readFileSync(file, "utf8"))
    ping.data.item.pong_count = 3
    writeFileSync(file, JSON.stringify(ping, null, 2))

    const stale = await codegen(fixtures, out, "--check")
    assert.strictEqual(stale.code, 1)
    assert.include(stale.stderr, `stale: ${join(out, "Objects.ts")}`)
    assert.deepStrictEqual(snapshot(out), before, "--check writes nothing")

    assert.strictEqual((await codegen(fixtures, out)).code, 0)
    assert.strictEqual((await codegen(fixtures, out, "--check")).code, 0)
    assert.include(
      readFileSync(join(out, "Objects.ts"), "utf8"),
      "pong_count: Schema.optional(Schema.NullOr(Schema.Finite))"
    )
  })

  it("--check names missing and extra files", async () => {
    const out = join(work, "extra")
    assert.strictEqual((await codegen(fixtures, out)).code, 0)
    rmSync(join(out, "Ping.ts"))
    writeFileSync(join(out, "Old.ts"), "export {}\n")
    const result = await codegen(fixtures, out, "--check")
    assert.strictEqual(result.code, 1)
    assert.include(result.stderr, `missing: ${join(out, "Ping.ts")}`)
    assert.include(result.stderr, `extra: ${join(out, "Old.ts")}`)
  })

  it("rejects a fixture that is not JSON, naming the file", async () => {
    const broken = join(work, "broken")
    cpSync(fixtures, broken, { recursive: true })
    writeFileSync(join(broken, "ping", "bad.json"), "{ not json")
    const result = await codegen(broken, join(work, "never"))
    assert.strictEqual(result.code, 1)
    assert.include(result.stderr, "ping/bad.json is not valid JSON")
  })
})
