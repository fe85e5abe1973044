import { Either, type ParseResult, Schema, SchemaAST } from "effect"
import { type CanonicalTopic, topicSchemas } from "../generated/index.js"

/** The longest description kept: it goes into answers, records, headers and logs. */
const MAX_LENGTH = 300

/** What a value is, in a few characters, without visiting what it holds (it may be nested without bound). */
export const kindOf = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  switch (typeof value) {
    case "string":
      return value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}...` : JSON.stringify(value)
    case "number":
    case "boolean":
      return String(value)
    case "object":
      return "an object"
    default:
      return typeof value
  }
}

const expected = (ast: SchemaAST.AST): string => {
  const identifier = SchemaAST.getIdentifierAnnotation(ast)
  if (identifier._tag === "Some") return identifier.value
  const text = String(ast)
  return text.length > 80 ? `${text.slice(0, 80)}...` : text
}

interface Found {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

/**
 * The most telling issue: for a union, the member that failed deepest (the kind that nearly matched). Issues follow
 * the schema's shape, not the value's, so this recursion is as deep as the generated schemas and no deeper.
 */
const find = (issue: ParseResult.ParseIssue, path: ReadonlyArray<PropertyKey>): Found => {
  switch (issue._tag) {
    case "Pointer":
      return find(issue.issue, [...path, ...(Array.isArray(issue.path) ? issue.path : [issue.path])])
    case "Composite": {
      const issues = Array.isArray(issue.issues) ? issue.issues : [issue.issues as ParseResult.ParseIssue]
      return issues.map((member) => find(member, path)).reduce((a, b) => b.path.length > a.path.length ? b : a)
    }
    case "Refinement":
      return issue.kind === "From"
        ? find(issue.issue, path)
        : { path, message: issue.issue._tag === "Type" && issue.issue.message ? issue.issue.message : "is invalid" }
    case "Transformation":
      return find(issue.issue, path)
    case "Type":
      return { path, message: issue.message ?? `expected ${expected(issue.ast)}, got ${kindOf(issue.actual)}` }
    case "Missing":
      return { path, message: "is missing" }
    case "Unexpected":
      return { path, message: "is not expected" }
    case "Forbidden":
      return { path, message: "is forbidden" }
  }
}

/** `data.item.open: expected boolean, got "yes"`: one line, bounded, whatever the value holds. */
export const describeParseError = (error: ParseResult.ParseError): string => {
  const { message, path } = find(error.issue, [])
  const text = `${path.length === 0 ? "body" : path.map(String).join(".")}: ${message}`.replace(/\s+/g, " ")
  return text.length > MAX_LENGTH ? `${text.slice(0, MAX_LENGTH)}...` : text
}

interface CheckOptions {
  readonly onExcessProperty: "ignore" | "error"
  readonly errors?: "first" | "all"
}

/**
 * A generated schema's check as one line saying what is wrong, or undefined when the payload matches. Effect's union
 * search reads a kind's `type` with `String()`, which throws for a JSON object such as `{"toString":0}`: that is the
 * payload's mistake, reported as a mismatch like any other.
 */
const schemaCheck = (fields: Schema.Struct.Fields, options: CheckOptions): (payload: unknown) => string | undefined => {
  const decode = Schema.decodeUnknownEither(Schema.Struct(fields) as unknown as Schema.Schema<unknown>, options)
  return (payload) => {
    let result: Either.Either<unknown, ParseResult.ParseError>
    try {
      result = decode(payload)
    } catch (error) {
      return `body: a value the schema cannot read (${String((error as Error).message).slice(0, 100)})`
    }
    return Either.isRight(result) ? undefined : describeParseError(result.left)
  }
}

/** Every topic's `schemaCheck` with the same options. */
export const schemaChecks = (options: CheckOptions) =>
  Object.fromEntries(
    Object.entries(topicSchemas).map(([topic, schema]) => [topic, schemaCheck(schema.fields, options)])
  ) as Record<CanonicalTopic, (payload: unknown) => string | undefined>
