import { Either } from "effect"

/** One `pattern=sink,sink` rule of `ROUTES`. */
export interface Route {
  readonly pattern: string
  readonly sinks: ReadonlyArray<string>
}

const PATTERN = /^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?)$/

/** Parses `contacts.*=file,http;ping=console;*=file`; the error says which rule is wrong and why. */
export const parseRoutes = (text: string): Either.Either<ReadonlyArray<Route>, string> => {
  const routes: Array<Route> = []
  for (const rule of text.split(";").map((part) => part.trim()).filter((part) => part.length > 0)) {
    const [pattern, sinks, ...rest] = rule.split("=").map((part) => part.trim())
    if (pattern === undefined || sinks === undefined || rest.length > 0) {
      return Either.left(`"${rule}" is not of the form pattern=sink,sink`)
    }
    if (!PATTERN.test(pattern)) {
      return Either.left(`"${pattern}" is not a topic, a prefix ending in .* or *`)
    }
    if (routes.some((route) => route.pattern === pattern)) {
      return Either.left(`"${pattern}" appears twice`)
    }
    const names = sinks.split(",").map((name) => name.trim()).filter((name) => name.length > 0)
    if (names.length === 0) return Either.left(`"${rule}" names no sink`)
    routes.push({ pattern, sinks: names })
  }
  return routes.length === 0 ? Either.left("no rule given") : Either.right(routes)
}

/** How specific a pattern is for `topic`: -1 when it does not match; an exact topic beats any prefix. */
const specificity = (pattern: string, topic: string): number => {
  if (pattern === topic) return Number.MAX_SAFE_INTEGER
  if (pattern === "*") return 0
  if (pattern.endsWith(".*") && topic.startsWith(pattern.slice(0, -1))) return pattern.length
  return -1
}

/** The sinks of the most specific rule matching `topic`, or undefined when no rule matches. */
export const sinksFor = (routes: ReadonlyArray<Route>, topic: string): ReadonlyArray<string> | undefined => {
  let best: Route | undefined
  let bestScore = -1
  for (const route of routes) {
    const score = specificity(route.pattern, topic)
    if (score > bestScore) {
      best = route
      bestScore = score
    }
  }
  return best?.sinks
}
