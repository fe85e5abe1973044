/**
 * The single changes real Intercom traffic makes to a notification the schemas were generated from, enumerated
 * position by position: a field set to null or removed, a timestamp written the other way (unix seconds <-> ISO
 * string), a field never seen added, an object's `type` changed to a kind never seen. Identifying keys are left alone:
 * the envelope's `type`, `topic`, `data` and `data.item`, and `type`/`id` of any object that carries a `type`.
 */

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
type JsonObject = { [key: string]: Json }

export type VariationKind = "null" | "remove" | "timestamp" | "add" | "kind"
export const variationKinds: ReadonlyArray<VariationKind> = ["null", "remove", "timestamp", "add", "kind"]

/** Where a variation applies: the path of an object, and for field variations the key in it. */
export interface Position {
  readonly path: ReadonlyArray<string | number>
  readonly key?: string
}

const isObject = (value: Json): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/
const isUnixSeconds = (value: Json): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= 1e9 && value < 1e10

/** A timestamp field: an ISO date-time string anywhere, or unix seconds under a `*_at` key. */
const isTimestamp = (key: string, value: Json): boolean =>
  (typeof value === "string" && ISO.test(value)) || (key.endsWith("_at") && isUnixSeconds(value))

const identifying = (path: ReadonlyArray<string | number>, object: JsonObject, key: string): boolean =>
  (path.length === 0 && (key === "type" || key === "topic" || key === "data")) ||
  (path.length === 1 && path[0] === "data" && key === "item") ||
  (typeof object.type === "string" && (key === "type" || key === "id"))

/** Every position of `root` where a variation of `kind` applies, in document order. */
export const positions = (root: Json, kind: VariationKind): ReadonlyArray<Position> => {
  const found: Array<Position> = []
  const visit = (value: Json, path: ReadonlyArray<string | number>) => {
    if (Array.isArray(value)) {
      value.forEach((element: Json, index: number) => visit(element, [...path, index]))
      return
    }
    if (!isObject(value)) return
    if (kind === "add") found.push({ path })
    if (kind === "kind" && typeof value.type === "string") found.push({ path })
    for (const [key, field] of Object.entries(value)) {
      if (kind === "timestamp" && isTimestamp(key, field)) found.push({ path, key })
      if ((kind === "null" || kind === "remove") && !identifying(path, value, key)) found.push({ path, key })
      visit(field, [...path, key])
    }
  }
  visit(root, [])
  return found
}

/** `2026-01-10T04:22:28.000+00:00`, the form Intercom's contact webhooks use. */
const toIso = (seconds: number): string => new Date(seconds * 1000).toISOString().replace("Z", "+00:00")

const otherWay = (value: Json): Json =>
  typeof value === "number" ? toIso(value) : Math.floor(Date.parse(value as string) / 1000)

/** What a variation puts in: the added field's name and value, or the new kind. */
export interface Novelty {
  readonly key: string
  readonly value: Json
  readonly kind: string
}

/** A deep copy of `root` with one variation applied at `position`. */
export const vary = (root: Json, kind: VariationKind, position: Position, novelty: Novelty): Json => {
  const copy = structuredClone(root) as Json
  let target = copy as JsonObject
  for (const step of position.path) target = (target as unknown as Record<string | number, JsonObject>)[step]!
  const key = position.key!
  switch (kind) {
    case "null":
      target[key] = null
      break
    case "remove":
      delete target[key]
      break
    case "timestamp":
      target[key] = otherWay(target[key]!)
      break
    case "add":
      target[novelty.key] = novelty.value
      break
    case "kind":
      target.type = novelty.kind
      break
  }
  return copy
}
