import { ENVELOPE, type Model, type ObjectShape, type Slot } from "./Infer.js"

/**
 * What a place in a notification accepts, decided once from the samples; printed as an Effect Schema (`Emit`) and as
 * a compiled validator (`EmitValidators`), so the two cannot disagree on a rule.
 */
export type Node =
  | { readonly _tag: "String" | "Finite" | "Boolean" | "Unknown" | "Timestamp" }
  | { readonly _tag: "Literal"; readonly value: string }
  | { readonly _tag: "NullOr"; readonly node: Node }
  | { readonly _tag: "Union"; readonly members: ReadonlyArray<Node> }
  | { readonly _tag: "Array"; readonly element: Node }
  | { readonly _tag: "Record"; readonly value: Node }
  | { readonly _tag: "Ref"; readonly name: string }
  | { readonly _tag: "OtherKind"; readonly kinds: ReadonlyArray<string> }

export interface Field {
  readonly key: string
  readonly node: Node
  readonly required: boolean
}

/** Keys written first, in this order; the rest alphabetically. */
const LEADING_KEYS: Readonly<Record<string, ReadonlyArray<string>>> = { [ENVELOPE]: ["type", "id", "topic"] }
const DEFAULT_LEADING_KEYS = ["type", "id"]

/**
 * Keys that identify: required when every sample has them, and never null. The envelope's `type` and `topic`,
 * and `type`/`id` of objects named after their kind. Every other key is optional and nullable.
 */
const requiredKeys = (shape: ObjectShape): ReadonlyArray<string> =>
  shape.name === ENVELOPE ? ["type", "topic"] : shape.kind === undefined ? [] : ["type", "id"]

/** An untyped object with at least this many keys, all holding the same type, is a map, not a struct. */
const RECORD_MIN_KEYS = 10

/** Objects whose keys and values each workspace defines for itself: a map of anything. */
const FREE_FORM_KEYS: ReadonlyArray<string> = ["custom_attributes"]

/** Keys whose values are points in time, whatever the samples showed. */
const TIMESTAMP_KEY = /(_at|_since|_until)$/

/** Keys that refer to another object by id: Intercom sends these as strings or as numbers. */
const REFERENCE_KEY = /_id$/

const primitive = (_tag: "String" | "Finite" | "Boolean" | "Unknown" | "Timestamp"): Node => ({ _tag })
const UNKNOWN = primitive("Unknown")

const same = (a: Node, b: Node): boolean => JSON.stringify(a) === JSON.stringify(b)

export interface Nodes {
  /** What a slot found under `key` accepts (`key` undefined for array elements and map values). */
  readonly slot: (slot: Slot, key?: string) => Node
  /** The fields of an object shape, or undefined when the shape is a map (a `Record` node in place). */
  readonly fields: (shape: ObjectShape) => ReadonlyArray<Field> | undefined
  /** Object shapes a slot refers to by name. */
  readonly references: (slot: Slot) => ReadonlyArray<string>
}

export const makeNodes = (model: Model): Nodes => {
  const shapeOf = (name: string): ObjectShape => {
    const shape = model.objects.get(name)
    if (shape === undefined) throw new Error(`no schema named ${name}`)
    return shape
  }

  /** A field that may be null: every one but the identifying keys. */
  const nullable = (node: Node): Node =>
    node._tag === "NullOr" || node._tag === "Unknown" ? node : { _tag: "NullOr", node }

  const recordValue = (shape: ObjectShape): Node | undefined => {
    if (shape.kind !== undefined) return undefined
    if (shape.fields.size === 0 || FREE_FORM_KEYS.includes(shape.key ?? "")) return UNKNOWN
    const keys = [...shape.fields.keys()]
    const values = [...shape.fields.values()].map((field) => nullable(slot(field)))
      .filter((value, index, all) => all.findIndex((other) => same(other, value)) === index)
    if (keys.every((key) => /^\d+$/.test(key))) {
      return values.length === 1 ? values[0] : { _tag: "Union", members: values }
    }
    return keys.length >= RECORD_MIN_KEYS && values.length === 1 ? values[0] : undefined
  }

  const objectMember = (name: string): Node => {
    const value = recordValue(shapeOf(name))
    return value === undefined ? { _tag: "Ref", name } : { _tag: "Record", value }
  }

  function slot(observed: Slot, key?: string): Node {
    const members: Array<Node> = []
    const scalar = observed.string || observed.number
    const onlyNull = observed.null && !observed.boolean && observed.objects.size === 0 &&
      observed.array === undefined &&
      !scalar
    if ((scalar || onlyNull) && (observed.timestamp || TIMESTAMP_KEY.test(key ?? ""))) {
      members.push(primitive("Timestamp"))
    } else if (scalar && REFERENCE_KEY.test(key ?? "")) members.push(primitive("String"), primitive("Finite"))
    else {
      if (observed.string) members.push(primitive("String"))
      if (observed.number) members.push(primitive("Finite"))
    }
    if (observed.boolean) members.push(primitive("Boolean"))
    const names = [...observed.objects].sort()
    for (const name of names) members.push(objectMember(name))
    const kinds = names.flatMap((name) => shapeOf(name).kind ?? [])
    if (kinds.length > 0) members.push({ _tag: "OtherKind", kinds })
    if (observed.array !== undefined) {
      members.push({ _tag: "Array", element: observed.array.seen === 0 ? UNKNOWN : slot(observed.array) })
    }
    if (members.length === 0) return UNKNOWN
    const node: Node = members.length === 1 ? members[0]! : { _tag: "Union", members }
    return observed.null ? { _tag: "NullOr", node } : node
  }

  const fieldOrder = (leading: ReadonlyArray<string>) => (a: string, b: string): number => {
    const rank = (key: string) => leading.includes(key) ? leading.indexOf(key) : leading.length
    return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0)
  }

  const fields = (shape: ObjectShape): ReadonlyArray<Field> | undefined => {
    if (recordValue(shape) !== undefined) return undefined
    const required = requiredKeys(shape)
    return [...shape.fields.keys()].sort(fieldOrder(LEADING_KEYS[shape.name] ?? DEFAULT_LEADING_KEYS)).map((key) => {
      const field = shape.fields.get(key)!
      if (key === "type" && shape.kind !== undefined) {
        return { key, node: { _tag: "Literal", value: shape.kind }, required: true }
      }
      const node = slot(field, key)
      return required.includes(key) && field.seen === shape.samples
        ? { key, node, required: true }
        : { key, node: nullable(node), required: false }
    })
  }

  const references = (observed: Slot): ReadonlyArray<string> => {
    const names = new Set<string>()
    const visit = (current: Slot) => {
      for (const name of current.objects) {
        const shape = shapeOf(name)
        if (recordValue(shape) === undefined) names.add(name)
        else for (const field of shape.fields.values()) visit(field)
      }
      if (current.array !== undefined) visit(current.array)
    }
    visit(observed)
    return [...names].sort()
  }

  return { slot, fields, references }
}
