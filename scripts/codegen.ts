/**
 * npm run codegen [-- --check] [--fixtures DIR] [--out DIR]
 * Infers Effect Schemas from schemas/fixtures/<topic>/*.json and writes src/generated/.
 * With --check nothing is written; exit 1 names each stale, missing or extra file.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Data, Effect } from "effect"
import { generate } from "./codegen/Generate.js"
import type { Fixture } from "./codegen/Infer.js"

class CodegenError extends Data.TaggedError("CodegenError")<{ readonly message: string }> {}

const option = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(name)
  return at === -1 ? fallback : process.argv[at + 1] ?? fallback
}

const readFixtures = (root: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const fixtures: Array<Fixture> = []
    for (const topic of (yield* fs.readDirectory(root)).sort()) {
      const folder = path.join(root, topic)
      if ((yield* fs.stat(folder)).type !== "Directory") continue
      for (const file of (yield* fs.readDirectory(folder)).filter((name) => name.endsWith(".json")).sort()) {
        const text = yield* fs.readFileString(path.join(folder, file))
        const value = yield* Effect.try({
          try: () => JSON.parse(text) as unknown,
          catch: (error) => new CodegenError({ message: `${topic}/${file} is not valid JSON: ${String(error)}` })
        })
        fixtures.push({ topic, file, value })
      }
    }
    if (fixtures.length === 0) {
      return yield* new CodegenError({ message: `no fixtures found: expected ${root}/<topic>/<name>.json` })
    }
    return fixtures
  })

const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const check = process.argv.includes("--check")
  const fixturesDir = option("--fixtures", "schemas/fixtures")
  const outDir = option("--out", "src/generated")

  const fixtures = yield* readFixtures(fixturesDir)
  const files = yield* Effect.try({
    try: () => generate(fixtures),
    catch: (error) => new CodegenError({ message: error instanceof Error ? error.message : String(error) })
  })
  const existing = (yield* fs.exists(outDir))
    ? (yield* fs.readDirectory(outDir)).filter((name) => name.endsWith(".ts")).sort()
    : []
  const wanted = new Set(files.map((file) => file.path))
  const extra = existing.filter((name) => !wanted.has(name))

  if (check) {
    const problems: Array<string> = extra.map((name) => `extra: ${path.join(outDir, name)}`)
    for (const file of files) {
      const target = path.join(outDir, file.path)
      if (!existing.includes(file.path)) problems.push(`missing: ${target}`)
      else if ((yield* fs.readFileString(target)) !== file.content) problems.push(`stale: ${target}`)
    }
    if (problems.length > 0) {
      return yield* new CodegenError({
        message: `generated schemas are out of date; run npm run codegen\n${problems.join("\n")}`
      })
    }
    return yield* Console.log(`${outDir} is up to date (${files.length} files from ${fixtures.length} fixtures)`)
  }

  yield* fs.makeDirectory(outDir, { recursive: true })
  for (const name of extra) yield* fs.remove(path.join(outDir, name))
  for (const file of files) yield* fs.writeFileString(path.join(outDir, file.path), file.content)
  yield* Console.log(`wrote ${files.length} files to ${outDir} from ${fixtures.length} fixtures`)
})

program.pipe(
  Effect.tapErrorTag("CodegenError", (error) => Console.error(`codegen: ${error.message}`)),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
