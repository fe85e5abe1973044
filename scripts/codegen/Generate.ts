import { createFromBuffer, type Formatter } from "@dprint/formatter"
import { getPath } from "@dprint/typescript"
import { readFileSync } from "node:fs"
import { declarationOrder, HEADER, indexModule, objectsModule, topicModule } from "./Emit.js"
import { validatorsModule } from "./EmitValidators.js"
import { type Fixture, infer } from "./Infer.js"
import { topicName } from "./Naming.js"
import { makeNodes } from "./Nodes.js"

export interface GeneratedFile {
  /** Path relative to the output folder. */
  readonly path: string
  readonly content: string
}

let formatter: Formatter | undefined

const format = (path: string, text: string): string => {
  if (formatter === undefined) {
    formatter = createFromBuffer(readFileSync(getPath()))
    formatter.setConfig({}, JSON.parse(readFileSync(new URL("../../dprint.json", import.meta.url), "utf8")))
  }
  return formatter.formatText({ filePath: path, fileText: text })
}

const byTopicThenFile = (a: Fixture, b: Fixture): number =>
  a.topic === b.topic ? (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) : a.topic < b.topic ? -1 : 1

/** The generated modules for a set of fixtures; the same fixtures always give the same bytes. */
export const generate = (fixtures: ReadonlyArray<Fixture>): ReadonlyArray<GeneratedFile> => {
  const model = infer([...fixtures].sort(byTopicThenFile))
  const nodes = makeNodes(model)
  const files: Array<GeneratedFile> = [
    { path: "Objects.ts", content: objectsModule(model, nodes) },
    ...[...model.items.keys()].map((topic) => ({
      path: `${topicName(topic)}.ts`,
      content: topicModule(model, nodes, topic)
    })),
    {
      path: "Validators.ts",
      content: validatorsModule(HEADER, model, nodes, declarationOrder(model, nodes).map((shape) => shape.name))
    },
    { path: "index.ts", content: indexModule(model) }
  ]
  return files.map(({ content, path }) => ({ path, content: format(path, content) }))
}
