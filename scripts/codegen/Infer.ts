import { kindName, memberName, topicName } from "./Naming.js"

/** Everything observed at one place of the samples: a field of an object, an array's elements or a topic's item. */
export interface Slot {
  /** How many values were seen here; for a field, how many samples carried the key. */
  seen: number
  null: boolean
  boolean: boolean
  number: boolean
  string: boolean
  /** Some value here looked like a point in time: an ISO-8601 date-time string, or an integer of unix seconds. */
  timestamp: boolean
  /** Names of the object schemas seen here. */
  readonly objects: Set<string>
  /** The elements of every array seen here. */
  array: Slot | undefined
}

export interface ObjectShape {
  readonly name: string
  /** The `type` value shared by every sample, when the schema is named after it. */
  readonly kind: string | undefined
  /** For an object without a kind: the key it is found under. */
  readonly key: string | undefined
  samples: number
  readonly fields: Map<string, Slot>
}

export interface Fixture {
  readonly topic: string
  readonly file: string
  readonly value: unknown
}

export interface Model {
  readonly objects: ReadonlyMap<string, ObjectShape>
  /** Canonical topic -> what its fixtures carry in `data.item`, topics sorted. */
  readonly items: ReadonlyMap<string, Slot>
}

export const ENVELOPE = "NotificationEnvelope"
export const ENVELOPE_DATA = "NotificationData"

const emptySlot = (): Slot => ({
  seen: 0,
  null: false,
  boolean: false,
  number: false,
  string: false,
  timestamp: false,
  objects: new Set(),
  array: undefined
})

interface Position {
  readonly owner: string
  readonly key: string
  /** Kinds of the enclosing objects. */
  readonly ancestors: ReadonlyArray<string>
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/
/** Unix seconds from 2001-09-09 to 2286-11-20: ten digits. */
const isUnixSeconds = (value: number): boolean => Number.isInteger(value) && value >= 1e9 && value < 1e10

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * One pass over the fixtures. `untyped` lists positions whose `type` is not an object kind: Intercom reuses kind
 * names for other purposes (a conversation's `source.type` is `"conversation"`), and a position where `type`
 * names an enclosing object's kind is such a place.
 */
const collect = (fixtures: ReadonlyArray<Fixture>, untyped: ReadonlySet<string>) => {
  const objects = new Map<string, ObjectShape>()
  const items = new Map<string, Slot>()
  const foundUntyped = new Set<string>()

  const shape = (name: string, kind: string | undefined, key?: string): ObjectShape => {
    const existing = objects.get(name)
    if (existing === undefined) {
      const created: ObjectShape = {
        name,
        kind,
        key: kind === undefined ? key : undefined,
        samples: 0,
        fields: new Map()
      }
      objects.set(name, created)
      return created
    }
    if (existing.kind !== kind) {
      throw new Error(
        `schema name ${name} is claimed both by objects of type "${existing.kind ?? kind}" and by untyped objects`
      )
    }
    return existing
  }

  const collectFields = (
    target: ObjectShape,
    value: Record<string, unknown>,
    ancestors: ReadonlyArray<string>,
    skip?: string
  ) => {
    target.samples++
    for (const [key, field] of Object.entries(value)) {
      if (key === skip) continue
      let slot = target.fields.get(key)
      if (slot === undefined) {
        slot = emptySlot()
        target.fields.set(key, slot)
      }
      observe(slot, field, { owner: target.name, key, ancestors })
    }
  }

  const collectObject = (value: Record<string, unknown>, at: Position): string => {
    const position = `${at.owner}.${at.key}`
    let kind = typeof value.type === "string" && !untyped.has(position) ? value.type : undefined
    if (kind !== undefined && at.ancestors.includes(kind)) {
      foundUntyped.add(position)
      kind = undefined
    }
    const target = shape(kind === undefined ? memberName(at.owner, at.key) : kindName(kind), kind, at.key)
    collectFields(target, value, kind === undefined ? at.ancestors : [...at.ancestors, kind])
    return target.name
  }

  const observe = (slot: Slot, value: unknown, at: Position): void => {
    slot.seen++
    if (value === null) slot.null = true
    else if (Array.isArray(value)) {
      slot.array ??= emptySlot()
      for (const element of value) observe(slot.array, element, at)
    } else if (isRecord(value)) slot.objects.add(collectObject(value, at))
    else if (typeof value === "boolean") slot.boolean = true
    else if (typeof value === "number") {
      slot.number = true
      if (isUnixSeconds(value)) slot.timestamp = true
    } else if (typeof value === "string") {
      slot.string = true
      if (ISO_DATE_TIME.test(value)) slot.timestamp = true
    }
  }

  for (const fixture of fixtures) {
    const where = `${fixture.topic}/${fixture.file}`
    const root = fixture.value
    if (!isRecord(root)) throw new Error(`${where}: a fixture must be a JSON object (a whole notification)`)
    const data = root.data
    if (!isRecord(data) || !("item" in data)) throw new Error(`${where}: a notification needs data.item`)
    collectFields(shape(ENVELOPE, undefined), root, [], "data")
    collectFields(shape(ENVELOPE_DATA, undefined), data, [], "item")
    let item = items.get(fixture.topic)
    if (item === undefined) {
      item = emptySlot()
      items.set(fixture.topic, item)
    }
    observe(item, data.item, { owner: topicName(fixture.topic), key: "item", ancestors: [] })
  }
  return { model: { objects, items }, foundUntyped }
}

/** Infers the object schemas and each topic's item from fixtures given in a fixed order. */
export const infer = (fixtures: ReadonlyArray<Fixture>): Model => {
  const untyped = new Set<string>()
  for (;;) {
    const { foundUntyped, model } = collect(fixtures, untyped)
    const before = untyped.size
    for (const position of foundUntyped) untyped.add(position)
    if (untyped.size === before) return model
  }
}
