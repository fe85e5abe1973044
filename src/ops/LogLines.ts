import { HashMap, Logger } from "effect"

/**
 * A log message with annotations of its own: `Effect.log(new Annotated("webhook", { status: 200 }))` is logged as
 * `Effect.log("webhook").pipe(Effect.annotateLogs({ status: 200 }))` would be, once a logger is wrapped in
 * `expandAnnotated`. The request line is written this way: `annotateLogs` sets and restores a fiber-local map, which
 * cost about as much as formatting and writing the line.
 */
export class Annotated {
  constructor(readonly message: string, readonly annotations: Readonly<Record<string, unknown>>) {}
}

/** `logger`, with each `Annotated` message given to it as its text and its annotations added to the fiber's. */
export const expandAnnotated = <Output>(logger: Logger.Logger<unknown, Output>): Logger.Logger<unknown, Output> =>
  Logger.make((options) => {
    const message = Array.isArray(options.message) && options.message.length === 1
      ? options.message[0]
      : options.message
    if (!(message instanceof Annotated)) return logger.log(options)
    const annotations = HashMap.mutate(options.annotations, (map) => {
      for (const [key, value] of Object.entries(message.annotations)) HashMap.set(map, key, value)
    })
    return logger.log({ ...options, message: message.message, annotations })
  })

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

/** Effect's `Logger.jsonLogger` (the same lines), to stderr through `write`. */
export const json = Logger.make<unknown, void>((options) => write(Logger.jsonLogger.log(options)))
