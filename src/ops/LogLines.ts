import { Cause, HashMap, Inspectable, List, Logger, LogLevel, Predicate } from "effect"

/**
 * A log message with annotations of its own: `Effect.log(new Annotated("webhook", { status: 200 }))` is logged as
 * `Effect.log("webhook").pipe(Effect.annotateLogs({ status: 200 }))` would be, once a logger is wrapped in
 * `expandAnnotated`. The request line is written this way: `annotateLogs` sets and restores a fiber-local map, which
 * cost about as much as formatting and writing the line.
 */
export class Annotated {
  constructor(readonly message: string, readonly annotations: Readonly<Record<string, unknown>>) {}
}

type Options = Logger.Logger.Options<unknown>

const annotatedOf = (options: Options): Annotated | undefined => {
  const message = Array.isArray(options.message) && options.message.length === 1 ? options.message[0] : options.message
  return message instanceof Annotated ? message : undefined
}

/** `options` with an `Annotated` message as its text and its annotations added to the fiber's. */
const expand = (options: Options, message: Annotated): Options => ({
  ...options,
  message: message.message,
  annotations: HashMap.mutate(options.annotations, (map) => {
    for (const [key, value] of Object.entries(message.annotations)) HashMap.set(map, key, value)
  })
})

/** `logger`, with each `Annotated` message given to it as its text and its annotations added to the fiber's. */
export const expandAnnotated = <Output>(logger: Logger.Logger<unknown, Output>): Logger.Logger<unknown, Output> =>
  Logger.make((options) => {
    const message = annotatedOf(options)
    return logger.log(message === undefined ? options : expand(options, message))
  })

const isPlain = (value: unknown) =>
  value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean"

const errorToJson = (value: unknown) =>
  Predicate.isError(value) && !Predicate.hasProperty(value, "toJSON")
    ? { ...value, name: value.name, message: value.message }
    : value

/**
 * A JSON log line: `Logger.jsonLogger`'s, with only the fields that carry something. `message`, `logLevel` and
 * `timestamp` always; `cause`, `annotations` and `spans` only when there are any; never the fiber's id (a number that
 * means nothing outside the process).
 */
export const jsonLine = (options: Options): string => {
  const { annotations, cause, logLevel, message, spans, timestamp } = Logger.structuredLogger.log(options)
  return Inspectable.stringifyCircular({
    message: Array.isArray(message) ? message.map(errorToJson) : errorToJson(message),
    logLevel,
    timestamp,
    ...(cause === undefined ? {} : { cause }),
    ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
    ...(Object.keys(spans).length === 0 ? {} : { spans })
  })
}

/**
 * The line `jsonLine` writes for an `Annotated` message of plain values (strings, numbers, booleans, null), in a fiber
 * without annotations or spans and without a cause; built directly, without the general formatter's walks over the
 * value (a copy of every annotation, a replacer call per key). Undefined for any other message.
 */
export const plainJsonLine = (options: Options): string | undefined => {
  const message = annotatedOf(options)
  if (
    message === undefined || HashMap.size(options.annotations) > 0 || List.isCons(options.spans) ||
    !Cause.isEmpty(options.cause) || !Object.values(message.annotations).every(isPlain) ||
    Object.hasOwn(message.annotations, "__proto__") // Effect's formatter loses such a field; it goes there too
  ) return undefined
  const line = { message: message.message, logLevel: options.logLevel.label, timestamp: options.date.toISOString() }
  return JSON.stringify(
    Object.keys(message.annotations).length === 0 ? line : { ...line, annotations: message.annotations }
  )
}

/**
 * Log lines to stderr, written together once per turn of the event loop: under load, one write for a few dozen request
 * lines instead of a `console.error` each (Node's console formats its arguments and writes synchronously to a file or
 * pipe). Whatever is still waiting is written synchronously when the process exits.
 */
let waiting: Array<string> = []
let scheduled = false

const flush = () => {
  scheduled = false
  if (waiting.length === 0) return
  const text = waiting.join("\n") + "\n"
  waiting = []
  process.stderr.write(text)
}

process.once("exit", flush)

export const write = (line: string): void => {
  waiting.push(line)
  if (scheduled) return
  scheduled = true
  setImmediate(flush).unref()
}

/** JSON lines (see `jsonLine`), `Annotated` messages expanded, to stderr through `write`. */
export const json = Logger.make<unknown, void>((options) => {
  const plain = plainJsonLine(options)
  if (plain !== undefined) return write(plain)
  const message = annotatedOf(options)
  write(jsonLine(message === undefined ? options : expand(options, message)))
})

/** The levels `LOG_LEVEL` (and a mounted webhook's `logLevel`) names. */
export const levels = {
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  none: LogLevel.None
} as const
