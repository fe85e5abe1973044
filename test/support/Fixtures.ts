import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

export const fixturesDir = new URL("../../schemas/fixtures", import.meta.url).pathname

export interface FixtureFile {
  readonly topic: string
  readonly file: string
  readonly bytes: Buffer
  readonly json: unknown
}

/** Every fixture under schemas/fixtures, as exact bytes and parsed, sorted by topic then file. */
export const loadFixtures = (): ReadonlyArray<FixtureFile> =>
  readdirSync(fixturesDir).sort().flatMap((topic) =>
    readdirSync(join(fixturesDir, topic)).filter((file) => file.endsWith(".json")).sort().map((file) => {
      const bytes = readFileSync(join(fixturesDir, topic, file))
      return { topic, file, bytes, json: JSON.parse(bytes.toString("utf8")) as unknown }
    })
  )
