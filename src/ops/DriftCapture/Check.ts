import { Either, type ParseResult, Schema } from "effect"
import { createHash } from "node:crypto"
import { type CanonicalTopic, topicSchemas } from "../../generated/index.js"
import { schemaChecks } from "../../pipeline/ParseProblem.js"

/**
 * Values (objects, arrays and what they hold) a check looks at, at most: real notifications hold a few hundred (the
 * largest fixture 210). With 6,000 to 20,000, each step of a check (parse, exact check, shape, text) took 2-30 ms here,
 * more when many are fields the schema lacks; a notification with more is not checked.
 */
export const MAX_VALUES = 10_000

/** Levels a check descends, at most: real notifications nest about a dozen. */
export const MAX_DEPTH = 64

/**
 * Whether `value` holds more than `MAX_VALUES` values or nests deeper than `MAX_DEPTH`; stops as soon as it does,
 * without recursion.
 */
export const tooComplex = (value: unknown): boolean => {
  const values: Array<unknown> = [value]
  const depths: Array<number> = [0]
  let seen = 0
  while (values.length > 0) {
    const next = values.pop()
    const depth = depths.pop()!
    if (typeof next !== "object" || next === null) continue
    for (const key in next) {
      if (++seen > MAX_VALUES || depth >= MAX_DEPTH) return true
      values.push((next as Record<string, unknown>)[key])
      depths.push(depth + 1)
    }
  }
  return false
}

/**
 * Each topic's schema without "preserve", stopping at the first difference: a field the fixtures never showed fails
 * it. The first difference is enough to tell drift; listing them all costs about 20 times more on a wide object.
 */
export const exactProblem = schemaChecks({ onExcessProperty: "error", errors: "first" })

/** Each topic's schema as the request path checks it: unknown fields allowed, and left out of the decoded value. */
const lenient = Object.fromEntries(
  Object.entries(topicSchemas).map((
    [topic, schema]
  ) => [topic, Schema.decodeUnknownEither(Schema.Struct(schema.fields) as unknown as Schema.Schema<unknown>)])
) as Record<CanonicalTopic, (payload: unknown) => Either.Either<unknown, ParseResult.ParseError>>

/** `."data"."item"."loyalty_tier"`; an array's elements share `[]`, so the same field in each element is one path. */
const member = (path: string, key: PropertyKey) =>
  typeof key === "number" ? `${path}[]` : `${path}.${JSON.stringify(String(key))}`

/** Paths a shape is made of, at most: past them a notification is hostile rather than drifting, and one shape. */
const MAX_PATHS = 1000

/** The paths of `original` that the decoding left out of `kept` (the fields the schema lacks), the first `MAX_PATHS`. */
const leftOut = (original: unknown, kept: unknown): Array<string> => {
  const paths: Array<string> = []
  const pairs: Array<readonly [unknown, unknown, string]> = [[original, kept, ""]]
  while (pairs.length > 0 && paths.length < MAX_PATHS) {
    const [from, to, path] = pairs.pop()!
    if (from === to || typeof from !== "object" || from === null || typeof to !== "object" || to === null) continue
    if (Array.isArray(from)) {
      if (Array.isArray(to)) from.forEach((element, index) => pairs.push([element, to[index], member(path, index)]))
      continue
    }
    for (const [key, field] of Object.entries(from)) {
      if (Object.hasOwn(to, key)) pairs.push([field, (to as Record<string, unknown>)[key], member(path, key)])
      else paths.push(member(path, key))
    }
  }
  return paths
}

/** Where a decoding failed, and how (`."data"."item"."open" Type`), for each failure it reports. */
const failedAt = (issue: ParseResult.ParseIssue): Array<string> => {
  const paths: Array<string> = []
  const issues: Array<readonly [ParseResult.ParseIssue, string]> = [[issue, ""]]
  while (issues.length > 0) {
    const [next, path] = issues.pop()!
    switch (next._tag) {
      case "Pointer":
        issues.push([next.issue, ([] as Array<PropertyKey>).concat(next.path).reduce<string>(member, path)])
        break
      case "Composite":
        for (const inner of Array.isArray(next.issues) ? next.issues : [next.issues]) issues.push([inner, path])
        break
      case "Refinement":
      case "Transformation":
        issues.push([next.issue, path])
        break
      default:
        paths.push(`${path} ${next._tag}`)
    }
  }
  return paths
}

/**
 * The shape of a notification's drift, as a short hash: the sorted paths of the fields its schema lacks (array
 * elements merged), or, when it does not match even with unknown fields allowed, where and how that check failed. The
 * values do not count, so a flood of one drift has one shape.
 */
export const shapeOf = (topic: CanonicalTopic, payload: unknown): string => {
  let paths: Array<string>
  try {
    const decoded = lenient[topic](payload)
    paths = Either.isRight(decoded) ? leftOut(payload, decoded.right) : failedAt(decoded.left.issue)
  } catch {
    // Effect reads a union member's `type` with String(), which throws for `{"toString":0}` (see ParseProblem).
    paths = ["unreadable"]
  }
  return createHash("sha256").update([...new Set(paths)].sort().join("\n")).digest("hex").slice(0, 16)
}
