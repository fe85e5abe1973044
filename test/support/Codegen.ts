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

/**
 * The schema of `<name>` up to its type, from any generated module, as `export const <name> = ...`: an object's
 * schema is declared as `const <name>Schema = ...` and exported with an interface (see `opaque`).
 */
export const declaration = (files: Record<string, string>, name: string): string => {
  for (const content of Object.values(files)) {
    const prefix = [`export const ${name} = `, `const ${name}Schema = `].find((text) => content.includes(text))
    if (prefix === undefined) continue
    const start = content.indexOf(prefix)
    const ends = ["\n\n", "\nexport type ", "\nexport interface "].map((marker) => content.indexOf(marker, start))
      .filter((at) => at !== -1)
    const text = content.slice(start + prefix.length, ends.length === 0 ? undefined : Math.min(...ends)).trim()
    return `export const ${name} = ${text}`
  }
  throw new Error(`no declaration of ${name}`)
}

/** How an object's schema is exported: its type an interface, its schema typed by it. */
export const opaque = (files: Record<string, string>, name: string): ReadonlyArray<string> =>
  Object.values(files).flatMap((content) =>
    content.split("\n").filter((line) =>
      line.startsWith(`export interface ${name} `) || line.startsWith(`export const ${name}: `)
    )
  )

/** The generated item schema of the `t` topic for the given items. */
export const itemSchemaOf = (...items: ReadonlyArray<unknown>): Record<string, string> =>
  generateFrom(items.map((item, index) => notification("t", item, `${index}.json`)))
