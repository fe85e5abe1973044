/**
 * A NUL, or a surrogate without its pair: PostgreSQL keeps neither in text or jsonb (SQLite keeps both). The same
 * characters as `isStorable` (src/store/StorableText.ts) refuses in a notification's topic and id.
 */
const EVERY_UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g
/** A quick first look: most text has neither a NUL nor any surrogate (this walk runs on every mirrored item). */
const SUSPECT = /[\u0000\ud800-\udfff]/

/** Levels of nesting `data` keeps below the item (real items nest about 10 deep); a deeper object or array is null. */
export const MAX_DATA_DEPTH = 64

/** `text` with each NUL and unpaired surrogate replaced by U+FFFD: the same text in every store. */
export const storableText = (text: string): string =>
  SUSPECT.test(text) ? text.replace(EVERY_UNSTORABLE, "\ufffd") : text

const storableValue = (value: unknown, level: number): unknown => {
  if (typeof value === "string") return storableText(value)
  if (typeof value !== "object" || value === null) return value
  if (level > MAX_DATA_DEPTH) return null
  return Array.isArray(value) ? storableArray(value, level) : storableObject(value as Record<string, unknown>, level)
}

const storableArray = (array: ReadonlyArray<unknown>, level: number): ReadonlyArray<unknown> => {
  let copy: Array<unknown> | undefined
  for (let index = 0; index < array.length; index++) {
    const element = array[index]
    const stored = storableValue(element, level + 1)
    if (stored !== element) (copy ??= array.slice())[index] = stored
  }
  return copy ?? array
}

const storableObject = (object: Record<string, unknown>, level: number): Record<string, unknown> => {
  const keys = Object.keys(object)
  let copy: Record<string, unknown> | undefined
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!
    const value = object[key]
    const storedKey = storableText(key)
    const stored = storableValue(value, level + 1)
    if (copy === undefined && (storedKey !== key || stored !== value)) {
      // No prototype: a key `__proto__` stays a key.
      copy = Object.create(null) as Record<string, unknown>
      for (const earlier of keys.slice(0, index)) copy[earlier] = object[earlier]
    }
    if (copy !== undefined) copy[storedKey] = stored
  }
  return copy ?? object
}

/**
 * A parsed JSON value as every store keeps it in a JSON column: text made storable (keys too), nesting cut after
 * `MAX_DATA_DEPTH` levels (PostgreSQL's jsonb and `JSON.stringify` both give up on deep nesting). Numbers need
 * nothing: jsonb takes any JSON number. The value itself when nothing needs to change.
 */
export const storableJson = (value: unknown): unknown => storableValue(value, 0)
