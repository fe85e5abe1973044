import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

/** Intercom's OpenAPI description for API version 2.14, byte for byte as pinned in SOURCE.md beside it. */
export const INTERCOM_SPEC = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../fixtures/intercom-openapi/api.intercom.io.yaml"
)

export interface SpecDefect {
  readonly schema: string
  /** Absent for a line of the schema itself. */
  readonly property?: string
  /** The exact line under `components.schemas.<schema>[.properties.<property>]` that the relaxed copy replaces. */
  readonly line: string
  /** What replaces it; nothing when omitted. */
  readonly replacement?: ReadonlyArray<string>
  readonly why: string
}

const FORMAT_URI = "          format: uri"

/**
 * Where the description contradicts itself or cannot be compiled, and the one line the copy Prism loads drops for
 * each; the pinned file itself stays as published.
 */
export const SPEC_DEFECTS: ReadonlyArray<SpecDefect> = [
  ...[
    ["addressable_list", "type", "an object type, example `note`"],
    ["addressable_list", "url", "a path, example `/contacts/5ba682d23d7cf92bef87bfd4/notes`"],
    ["contact_tags", "url", "a path, example `/contacts/5ba682d23d7cf92bef87bfd4/tags`"],
    ["contact_notes", "url", "a path, example `/contacts/5ba682d23d7cf92bef87bfd4/notes`"],
    ["contact_companies", "url", "a path, example `/contacts/5ba682d23d7cf92bef87bfd4/companies`"]
  ].map(([schema, property, example]) => ({
    schema: schema!,
    property: property!,
    line: FORMAT_URI,
    why: `declared format: uri, but ${example}, as the API sends it: every real contact would be rejected`
  })),
  ...[["linked_object", "category"], ["ai_agent", "last_answer_type"], ["ai_agent", "resolution_state"]].map((
    [schema, property]
  ) => ({
    schema: schema!,
    property: property!,
    line: "          -",
    why: "`nullable: true` and a null enum item make null a duplicate enum value: ajv refuses every schema that "
      + "holds it and Prism then silently validates nothing, e.g. no conversation answer (nullable still allows null)"
  })),
  ...["conversation", "conversation_list_item"].flatMap((schema) => {
    const why = "a `$ref` with `nullable: true` and no `type`: ajv refuses the schema (\"nullable\" cannot be used "
      + "without \"type\") and Prism silently validates no conversation; said as anyOf [ai_agent, null] instead"
    return [
      {
        schema,
        property: "ai_agent",
        line: "          \"$ref\": \"#/components/schemas/ai_agent\"",
        replacement: [
          "          anyOf:",
          "          - \"$ref\": \"#/components/schemas/ai_agent\"",
          "          - type: \"null\""
        ],
        why
      },
      { schema, property: "ai_agent", line: "          nullable: true", why }
    ]
  }),
  {
    schema: "content_sources_list",
    line: "      nullable: false",
    replacement: ["      type: object"],
    why: "`nullable` without `type`: ajv refuses every conversation schema (it sits under ai_agent), Prism then "
      + "validates no conversation; the schema has properties only, so it is an object"
  }
]

/** The index of `defect.line` in its schema's property, or an error if the description changed there. */
const defectLine = (lines: ReadonlyArray<string>, defect: SpecDefect): number => {
  const { line, property, schema } = defect
  const start = lines.indexOf(`    ${schema}:`)
  if (start === -1) throw new Error(`schema ${schema} not found in the description`)
  const end = lines.findIndex((text, i) => i > start && /^ {0,4}\S/.test(text))
  if (property === undefined) {
    const own = lines.findIndex((text, i) => i > start && i < end && text === line)
    if (own === -1) throw new Error(`${schema} no longer has ${JSON.stringify(line)}: review SPEC_DEFECTS`)
    return own
  }
  const propertyLine = lines.findIndex((text, i) => i > start && i < end && text === `        ${property}:`)
  if (propertyLine === -1) throw new Error(`${schema}.${property} not found in the description`)
  const next = lines.findIndex((text, i) => i > propertyLine && /^ {0,8}\S/.test(text))
  const found = lines.findIndex((text, i) => i > propertyLine && i < next && text === line)
  if (found === -1) throw new Error(`${schema}.${property} no longer has ${JSON.stringify(line)}: review SPEC_DEFECTS`)
  return found
}

export const relaxSpec = (text: string): string => {
  const lines = text.split("\n")
  const replaced = new Map(SPEC_DEFECTS.map((defect) => [defectLine(lines, defect), defect.replacement ?? []]))
  return lines.flatMap((line, i) => replaced.get(i) ?? [line]).join("\n")
}

/** Writes the relaxed description to a temporary directory; `remove` deletes it. */
export const writeRelaxedSpec = (source = INTERCOM_SPEC): { readonly path: string; readonly remove: () => void } => {
  const directory = mkdtempSync(join(tmpdir(), "intercom-openapi-"))
  const path = join(directory, "api.intercom.io.yaml")
  writeFileSync(path, relaxSpec(readFileSync(source, "utf8")))
  return { path, remove: () => rmSync(directory, { recursive: true, force: true }) }
}
