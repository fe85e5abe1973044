import { ENVELOPE, ENVELOPE_DATA, type Model } from "./Infer.js"
import { topicName } from "./Naming.js"
import type { Field, Node, Nodes } from "./Nodes.js"

const checkName = (name: string): string => `is${name}`

/** A key read from an object, safe for keys that `Object.prototype` also has. */
const read = (target: string, key: string): string =>
  key in Object.prototype ? `own(${target}, ${JSON.stringify(key)})` : `${target}[${JSON.stringify(key)}]`

interface Printer {
  readonly check: (node: Node, value: string, depth: number) => string
  /** `const otherKind<n> = otherKind([...])` for every set of kinds used. */
  readonly constants: () => ReadonlyArray<string>
}

const makePrinter = (): Printer => {
  const otherKinds = new Map<string, string>()
  const check = (node: Node, value: string, depth: number): string => {
    switch (node._tag) {
      case "String":
      case "Boolean":
        return `typeof ${value} === ${JSON.stringify(node._tag.toLowerCase())}`
      case "Finite":
        return `isFinite(${value})`
      case "Unknown":
        return "true"
      case "Timestamp":
        return `isTimestamp(${value})`
      case "Literal":
        return `${value} === ${JSON.stringify(node.value)}`
      case "NullOr":
        return `(${value} === null || ${check(node.node, value, depth)})`
      case "Union":
        return `(${node.members.map((member) => check(member, value, depth)).join(" || ")})`
      case "Array": {
        if (node.element._tag === "Unknown") return `Array.isArray(${value})`
        const element = `e${depth}`
        return `isArrayOf(${value}, (${element}) => ${check(node.element, element, depth + 1)})`
      }
      case "Record": {
        if (node.value._tag === "Unknown") return `isRecord(${value})`
        const element = `e${depth}`
        return `isRecordOf(${value}, (${element}) => ${check(node.value, element, depth + 1)})`
      }
      case "Ref":
        return `${checkName(node.name)}(${value})`
      case "OtherKind": {
        const signature = JSON.stringify(node.kinds)
        let name = otherKinds.get(signature)
        if (name === undefined) {
          name = `otherKind${otherKinds.size}`
          otherKinds.set(signature, name)
        }
        return `${name}(${value})`
      }
    }
  }
  const constants = () =>
    [...otherKinds].map(([signature, name]) => `const ${name} = otherKind(${signature.replace(/,/g, ", ")})`)
  return { check, constants }
}

const fieldChecks = (printer: Printer, fields: ReadonlyArray<Field>, target: string): ReadonlyArray<string> =>
  fields.map(({ key, node, required }) => {
    const value = read(target, key)
    const checked = printer.check(node, value, 0)
    // An absent key decodes as `undefined`, which only an Unknown field's schema accepts.
    if (checked === "true") return "true"
    if (required) return `Object.hasOwn(${target}, ${JSON.stringify(key)}) && ${checked}`
    return `(${value} === undefined || ${checked})`
  }).filter((check) => check !== "true")

/** Helpers a generated module may use, each written only when something uses it. */
const HELPERS: ReadonlyArray<readonly [string, string]> = [
  [
    "isRecord",
    `const isRecord = (value: unknown): value is { readonly [key: string]: unknown } =>
  typeof value === "object" && value !== null && !Array.isArray(value)`
  ],
  ["isFinite", `const isFinite = (value: unknown): boolean => typeof value === "number" && Number.isFinite(value)`],
  ["isTimestamp", `const isTimestamp = (value: unknown): boolean => typeof value === "string" || isFinite(value)`],
  [
    "own",
    `const own = (record: { readonly [key: string]: unknown }, key: string): unknown =>
  Object.hasOwn(record, key) ? record[key] : undefined`
  ],
  [
    "isArrayOf",
    `const isArrayOf = (value: unknown, check: (element: unknown) => boolean): boolean => {
  if (!Array.isArray(value)) return false
  for (const element of value) if (!check(element)) return false
  return true
}`
  ],
  [
    "isRecordOf",
    `const isRecordOf = (value: unknown, check: (element: unknown) => boolean): boolean => {
  if (!isRecord(value)) return false
  for (const key of Object.keys(value)) if (!check(value[key])) return false
  return true
}`
  ],
  [
    "otherKind",
    `/** \`OtherKind(...kinds)\`: an object whose \`type\` is none of \`kinds\`, or null or absent. */
const otherKind = (kinds: ReadonlyArray<string>) => (value: unknown): boolean => {
  if (!isRecord(value)) return false
  const type = own(value, "type")
  return type === undefined || type === null || (typeof type === "string" && !kinds.includes(type))
}`
  ]
]

/** The helpers `code` calls, directly or through another helper, in declaration order. */
const helpersFor = (code: string): ReadonlyArray<string> => {
  const used = new Set<string>()
  let text = code
  for (;;) {
    const before = used.size
    for (const [name, source] of HELPERS) {
      if (!used.has(name) && new RegExp(`\\b${name}\\(`).test(text)) {
        used.add(name)
        text += source
      }
    }
    if (used.size === before) break
  }
  return HELPERS.filter(([name]) => used.has(name)).map(([, source]) => source)
}

/**
 * `src/generated/Validators.ts`: each schema as plain checks, one per object schema and one per topic's whole
 * notification, giving the verdict of decoding with the Effect Schema (`onExcessProperty: "ignore"`) without
 * interpreting it. `test/validators.prop.test.ts` holds the two to the same verdicts.
 */
export const validatorsModule = (
  header: string,
  model: Model,
  nodes: Nodes,
  ordered: ReadonlyArray<string>
): string => {
  const printer = makePrinter()
  const objectChecks = ordered.filter((name) => name !== ENVELOPE && name !== ENVELOPE_DATA).map((name) => {
    const checks = ["isRecord(value)", ...fieldChecks(printer, nodes.fields(model.objects.get(name)!)!, "value")]
    return `const ${checkName(name)} = (value: unknown): boolean =>\n  ${checks.join(" &&\n  ")}`
  })
  const envelope = fieldChecks(printer, nodes.fields(model.objects.get(ENVELOPE)!) ?? [], "value")
  const data = fieldChecks(printer, nodes.fields(model.objects.get(ENVELOPE_DATA)!) ?? [], "value.data")
  const topics = [...model.items.keys()]
  const topicChecks = topics.map((topic) => {
    const checks = [
      "isRecord(value)",
      ...envelope,
      "isRecord(value.data)",
      ...data,
      `Object.hasOwn(value.data, "item") && ${printer.check(nodes.slot(model.items.get(topic)!), "value.data.item", 0)}`
    ]
    return `const ${checkName(`${topicName(topic)}Notification`)} = (value: unknown): boolean =>\n  ${
      checks.join(" &&\n  ")
    }`
  })
  const body = [
    ...printer.constants(),
    ...objectChecks,
    ...topicChecks,
    `/** Canonical topic -> whether a parsed notification is one of that topic, as its schema decides. */\nexport const validators = {\n${
      topics.map((topic) => `  ${JSON.stringify(topic)}: ${checkName(`${topicName(topic)}Notification`)}`).join(",\n")
    }\n} as const\n`
  ]
  return [
    header,
    "/** Plain-code checks with the verdicts of the generated schemas, for the request path. */",
    ...helpersFor(body.join("\n")),
    ...body
  ].join("\n\n")
}
