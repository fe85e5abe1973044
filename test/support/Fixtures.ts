import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"

export const fixturesDir = new URL("../../schemas/fixtures", import.meta.url).pathname

export interface FixtureFile {
  readonly topic: string
  readonly file: string
  readonly bytes: Buffer
  readonly json: unknown
}

/** The realism corpus: notifications written apart from the fixtures, which the generator never reads. */
export const corpusDir = new URL("../corpus", import.meta.url).pathname

/** Every `<topic>/<name>.json` under `dir` (default schemas/fixtures), as exact bytes and parsed, sorted. */
export const loadFixtures = (dir: string = fixturesDir): ReadonlyArray<FixtureFile> =>
  readdirSync(dir).sort().filter((topic) => statSync(join(dir, topic)).isDirectory()).flatMap((topic) =>
    readdirSync(join(dir, topic)).filter((file) => file.endsWith(".json")).sort().map((file) => {
      const bytes = readFileSync(join(dir, topic, file))
      return { topic, file, bytes, json: JSON.parse(bytes.toString("utf8")) as unknown }
    })
  )
