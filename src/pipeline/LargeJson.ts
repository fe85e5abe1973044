/**
 * `JSON.parse` of UTF-8 bytes, a large body in pieces, each a string small enough to stay out of V8's large-object
 * space (why: docs/performance.md#large-bodies-parsed-in-pieces). A body over `PIECE` bytes is walked: containers
 * larger than `PIECE` are entered, and runs of their members or elements that fit in `PIECE` are parsed by
 * `JSON.parse` as one object or array each, then joined. The walk checks only the punctuation between the pieces,
 * exactly as JSON's grammar has it; anything else it meets (a value it cannot delimit, nesting deeper than
 * `MAX_NESTING`) and any piece `JSON.parse` refuses sends the whole body to one `JSON.parse`, whose value or error is
 * the answer. So the result is always `JSON.parse`'s (the property test compares them on generated JSON cut into
 * pieces of a few bytes).
 */

/** Bytes of a piece: its string stays under V8's limit for a regular object even at two bytes a character. */
export const PIECE = 60_000

/** Large containers nested deeper than this are parsed whole. */
const MAX_DEPTH = 32

/** Nesting deeper than this, anywhere, sends the body to one `JSON.parse` (real notifications nest about 12 deep). */
const MAX_NESTING = 512

/** Container ends remembered at most: a body of many small containers is scanned again rather than held twice. */
const MAX_ENDS = 65_536

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d

/** Thrown where the walk stops understanding the bytes: the whole body goes to `JSON.parse`. */
class Unwalkable {}
const unwalkable = new Unwalkable()

const isSpace = (byte: number) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09

/** Parses `bytes` as `JSON.parse(bytes.toString("utf8"))` does, in pieces of at most `piece` bytes where it can. */
export const parseJsonBytes = (bytes: Buffer, piece: number = PIECE): unknown => {
  if (bytes.length <= piece) return JSON.parse(bytes.toString("utf8"))
  const walked = inPieces(bytes, piece)
  return walked === undefined ? JSON.parse(bytes.toString("utf8")) : walked.value
}

/**
 * The walk alone: the value, or undefined where it stops (the bytes are not JSON, or nest deeper than `MAX_NESTING`;
 * any other JSON is walked).
 */
export const inPieces = (bytes: Buffer, piece: number): { readonly value: unknown } | undefined => {
  try {
    return { value: walk(bytes, piece) }
  } catch (error) {
    if (error !== unwalkable && !(error instanceof SyntaxError)) throw error
    return undefined
  }
}

const walk = (bytes: Buffer, piece: number): unknown => {
  const text = (start: number, end: number) => bytes.toString("utf8", start, end)

  const skipSpace = (at: number) => {
    while (at < bytes.length && isSpace(bytes[at]!)) at++
    return at
  }

  /** Where each container ends (its first byte -> the index after its last): the bytes are scanned once. */
  const ends = new Map<number, number>()
  const opened: Array<number> = []

  /** The index just after the string that opens at `at`. */
  const stringEnd = (at: number) => {
    let quote = bytes.indexOf(QUOTE, at + 1)
    for (;;) {
      if (quote === -1) throw unwalkable
      let backslashes = 0
      while (bytes[quote - 1 - backslashes] === BACKSLASH) backslashes++
      if (backslashes % 2 === 0) return quote + 1
      quote = bytes.indexOf(QUOTE, quote + 1)
    }
  }

  /** The index just after the value that starts at `at` (not checked: the piece holding it is parsed). */
  const valueEnd = (at: number) => {
    const first = bytes[at]
    if (first === QUOTE) return stringEnd(at)
    if (first === OPEN_OBJECT || first === OPEN_ARRAY) {
      const known = ends.get(at)
      if (known !== undefined) return known
      const base = opened.length
      let index = at
      while (index < bytes.length) {
        const byte = bytes[index]!
        if (byte === QUOTE) {
          index = stringEnd(index)
          continue
        }
        if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
          if (opened.push(index) - base > MAX_NESTING) throw unwalkable
        } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
          const start = opened.pop()!
          if (ends.size < MAX_ENDS) ends.set(start, index + 1)
          if (opened.length === base) return index + 1
        }
        index++
      }
      throw unwalkable
    }
    let index = at
    while (index < bytes.length) {
      const byte = bytes[index]!
      if (byte === COMMA || byte === CLOSE_OBJECT || byte === CLOSE_ARRAY || isSpace(byte)) break
      index++
    }
    if (index === at) throw unwalkable
    return index
  }

  /** The value from `start` to `end` (its first byte at `start`, nothing but the value before `end`). */
  const value = (start: number, end: number, depth: number): unknown => {
    if (end - start <= piece || depth === MAX_DEPTH) return JSON.parse(text(start, end))
    const first = bytes[start]
    if (first === OPEN_ARRAY) return array(start, end, depth)
    if (first === OPEN_OBJECT) return object(start, end, depth)
    return JSON.parse(text(start, end))
  }

  /**
   * The members (`pair`: key and value) or elements of the container from `start` to `end`, in order: runs that fit
   * in a piece are handed to `run` as their first and last byte, a larger one to `single` with its key's and its
   * value's bounds.
   */
  const entries = (
    start: number,
    end: number,
    pair: boolean,
    run: (from: number, to: number) => void,
    single: (keyStart: number, keyEnd: number, valueStart: number, valueEnd: number) => void
  ) => {
    const close = pair ? CLOSE_OBJECT : CLOSE_ARRAY
    let at = skipSpace(start + 1)
    if (bytes[at] === close) {
      if (at + 1 !== end) throw unwalkable
      return
    }
    let runStart = -1
    let runEnd = -1
    for (;;) {
      const entryStart = at
      let keyEnd = at
      if (pair) {
        if (bytes[at] !== QUOTE) throw unwalkable
        keyEnd = stringEnd(at)
        at = skipSpace(keyEnd)
        if (bytes[at] !== COLON) throw unwalkable
        at = skipSpace(at + 1)
      }
      const valueStart = at
      if (valueStart >= end) throw unwalkable
      const entryEnd = valueEnd(valueStart)
      if (runStart !== -1 && entryEnd - runStart > piece) {
        run(runStart, runEnd)
        runStart = -1
      }
      if (entryEnd - entryStart > piece) single(entryStart, keyEnd, valueStart, entryEnd)
      else {
        if (runStart === -1) runStart = entryStart
        runEnd = entryEnd
      }
      at = skipSpace(entryEnd)
      if (bytes[at] === COMMA) {
        at = skipSpace(at + 1)
        continue
      }
      if (bytes[at] !== close || at + 1 !== end) throw unwalkable
      if (runStart !== -1) run(runStart, runEnd)
      return
    }
  }

  const array = (start: number, end: number, depth: number): Array<unknown> => {
    const elements: Array<unknown> = []
    entries(start, end, false, (from, to) => {
      for (const element of JSON.parse(`[${text(from, to)}]`) as Array<unknown>) elements.push(element)
    }, (_keyStart, _keyEnd, from, to) => {
      elements.push(value(from, to, depth + 1))
    })
    return elements
  }

  const object = (start: number, end: number, depth: number): Record<string, unknown> => {
    const members: Record<string, unknown> = {}
    entries(start, end, true, (from, to) => {
      const parsed = JSON.parse(`{${text(from, to)}}`) as Record<string, unknown>
      for (const key of Object.keys(parsed)) define(members, key, parsed[key])
    }, (keyStart, keyEnd, from, to) => {
      define(members, JSON.parse(text(keyStart, keyEnd)) as string, value(from, to, depth + 1))
    })
    return members
  }

  const start = skipSpace(0)
  const end = valueEnd(start)
  if (skipSpace(end) !== bytes.length) throw unwalkable
  return value(start, end, 0)
}

/** Sets a member as `JSON.parse` does: `__proto__` becomes a member of that name, not the object's prototype. */
const define = (members: Record<string, unknown>, key: string, member: unknown) => {
  if (key === "__proto__") {
    Object.defineProperty(members, key, { value: member, writable: true, enumerable: true, configurable: true })
  } else members[key] = member
}
