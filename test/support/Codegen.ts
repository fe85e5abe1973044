import { generate } from "../../scripts/codegen/Generate.js"
import type { Fixture } from "../../scripts/codegen/Infer.js"

/** Generated modules for in-memory fixtures: file name -> source text. */
export const generateFrom = (fixtures: ReadonlyArray<Fixture>): Record<string, string> =>
  Object.fromEntries(generate(fixtures).map((file) => [file.path, file.content]))

/** A minimal notification carrying `item` under `topic`. */
export const notification = (topic: string, item: unknown, file = "0.json"): Fixture => ({
  topic,
  file,
  value: { type: "notification_event", id: "notif_1", topic, data: { item } }
})

/** The declaration `export const <name> = ...` up to its type export, from any generated module. */
export const declaration = (files: Record<string, string>, name: string): string => {
  for (const content of Object.values(files)) {
    const start = content.indexOf(`export const ${name} = `)
    if (start === -1) continue
    const ends = ["\n\n", "\nexport type "].map((marker) => content.indexOf(marker, start)).filter((at) => at !== -1)
    return content.slice(start, ends.length === 0 ? undefined : Math.min(...ends)).trim()
  }
  throw new Error(`no declaration of ${name}`)
}

/** The generated item schema of the `t` topic for the given items. */
export const itemSchemaOf = (...items: ReadonlyArray<unknown>): Record<string, string> =>
  generateFrom(items.map((item, index) => notification("t", item, `${index}.json`)))
