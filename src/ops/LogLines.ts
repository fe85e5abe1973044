import { Logger } from "effect"

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
