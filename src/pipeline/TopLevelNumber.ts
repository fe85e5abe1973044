const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const COLON = 0x3a
const COMMA = 0x2c

const isSpace = (byte: number) => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d

/** The index just past the string that starts at `start` (its opening quote). */
const endOfString = (bytes: Uint8Array, start: number): number => {
  let at = start + 1
  while (bytes[at] !== QUOTE) at += bytes[at] === BACKSLASH ? 2 : 1
  return at + 1
}

/** The index just past the value that starts at `start`. */
const endOfValue = (bytes: Uint8Array, start: number): number => {
  const first = bytes[start]!
  if (first === QUOTE) return endOfString(bytes, start)
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    let at = start
    while (at < bytes.length && !isSpace(bytes[at]!) && bytes[at] !== COMMA && bytes[at] !== CLOSE_OBJECT) at++
    return at
  }
  let depth = 0
  let at = start
  do {
    const byte = bytes[at]!
    if (byte === QUOTE) {
      at = endOfString(bytes, at)
      continue
    }
    if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) depth++
    else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) depth--
    at++
  } while (depth > 0)
  return at
}

const skipSpace = (bytes: Uint8Array, from: number): number => {
  let at = from
  while (isSpace(bytes[at]!)) at++
  return at
}

/**
 * The source text of the member `key` of the top-level object of `bytes`, when its value is a number: `JSON.parse`
 * turns `12345678901234567890` and `12345678901234567891` into the same double, and `1e21` into the string form of
 * `"1e+21"`; the text keeps them apart. The last member of that name wins, as with `JSON.parse`. `bytes` must be
 * valid JSON (it was parsed before); undefined when the value is not a number.
 */
export const topLevelNumber = (bytes: Uint8Array, key: string): string | undefined => {
  const name = JSON.stringify(key)
  let found: string | undefined
  let at = skipSpace(bytes, 0) + 1
  while (true) {
    at = skipSpace(bytes, at)
    if (bytes[at] === CLOSE_OBJECT) return found
    const nameEnd = endOfString(bytes, at)
    const member = Buffer.from(bytes.buffer, bytes.byteOffset + at, nameEnd - at).toString("utf8")
    at = skipSpace(bytes, nameEnd)
    if (bytes[at] !== COLON) return found
    const valueStart = skipSpace(bytes, at + 1)
    const valueEnd = endOfValue(bytes, valueStart)
    if (member === name || (member.includes("\\") && JSON.parse(member) === key)) {
      const first = bytes[valueStart]!
      found = first === 0x2d || (first >= 0x30 && first <= 0x39)
        ? Buffer.from(bytes.buffer, bytes.byteOffset + valueStart, valueEnd - valueStart).toString("latin1")
        : undefined
    }
    at = skipSpace(bytes, valueEnd)
    if (bytes[at] === COMMA) at++
  }
}
