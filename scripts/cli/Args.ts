/**
 * What the command-line tools share: strict parsing of their options with `util.parseArgs`, and one way to end.
 * Exit codes: 0 done, 1 failed, 2 usage (a wrong option, value or setting); every message is one line on stderr.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Data, Effect, Either, Exit } from "effect"
import { parseArgs } from "node:util"
import { redactText } from "../../src/config/Redact.js"

/** The command line (or a setting it relies on) is wrong: exit 2, with the usage line. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

export type Options = Record<string, "string" | "boolean">

export interface Command<O extends Options> {
  /** Starts every message: `replay: ...`. */
  readonly name: string
  /** One line: `usage: npm run replay -- [--sink S] ...`. */
  readonly usage: string
  /** What `--help` prints under the usage line. */
  readonly help: string
  /** Options by name (without `--`); `--help`/`-h` is added. */
  readonly options: O
  /** How many arguments may come besides the options. */
  readonly positionals: number
}

export interface Parsed<O extends Options> {
  readonly options: { readonly [K in keyof O]?: O[K] extends "string" ? string : boolean }
  readonly positionals: ReadonlyArray<string>
  readonly help: boolean
}

/** `parseArgs`' own messages quote the command line in long sentences; these name the option only. */
const describe = (error: unknown, positionals: number): string => {
  const { code, message } = error as { code?: string; message?: string }
  const option = /'(-{1,2}[^' <=]+)/.exec(message ?? "")?.[1] ?? "an option"
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option}`
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return message?.includes("does not take") ? `${option} takes no value` : `${option} needs a value`
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return positionals === 0 ? "takes no arguments besides its options" : `takes at most ${positionals} argument(s)`
    default:
      return message ?? String(error)
  }
}

/**
 * Parses `args` strictly: an unknown option, an option without its value (or with an empty one), an option given
 * twice or an argument too many is a `UsageError`.
 */
export const parse = <O extends Options>(
  command: Command<O>,
  args: ReadonlyArray<string> = process.argv.slice(2)
): Either.Either<Parsed<O>, UsageError> => {
  const options = Object.fromEntries(Object.entries(command.options).map(([name, type]) => [name, { type }]))
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: [...args],
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: command.positionals > 0,
      tokens: true
    })
  } catch (error) {
    return Either.left(new UsageError({ message: describe(error, command.positionals) }))
  }
  const seen = new Set<string>()
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== "option") continue
    if (seen.has(token.name)) return Either.left(new UsageError({ message: `--${token.name} is given twice` }))
    seen.add(token.name)
    if (token.value !== undefined && token.value.trim() === "") {
      return Either.left(new UsageError({ message: `--${token.name} needs a value` }))
    }
  }
  if (parsed.positionals.length > command.positionals) {
    return Either.left(new UsageError({ message: describe({ code: "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL" }, 1) }))
  }
  const { help, ...values } = parsed.values
  return Either.right({ options: values as Parsed<O>["options"], positionals: parsed.positionals, help: help === true })
}

const firstLine = (text: string) => text.split("\n")[0]!.trim()

/** One line for what went wrong, and the exit code: 2 for a usage error, else 1. */
const report = <O extends Options>(command: Command<O>, cause: Cause.Cause<unknown>) => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some" && failure.value instanceof UsageError) {
    return Console.error(`${command.name}: ${redactText(failure.value.message)}\n${command.usage}`).pipe(
      Effect.as(2)
    )
  }
  const error = failure._tag === "Some" ? failure.value : Cause.squash(cause)
  const message = error instanceof Error || (typeof error === "object" && error !== null && "message" in error)
    ? String((error as { message: unknown }).message)
    : String(error)
  const unexpected = failure._tag === "Some" ? "" : "unexpected error: "
  return Console.error(`${command.name}: ${unexpected}${redactText(firstLine(message))}`).pipe(Effect.as(1))
}

/** Runs a tool: `--help` prints its usage; exit 0 when done, 1 when it failed, 2 for a usage error; never a stack. */
export const main = <O extends Options, E>(
  command: Command<O>,
  program: (parsed: Parsed<O>) => Effect.Effect<void, E>
): void =>
  Either.match(parse(command), {
    onLeft: (error) => Effect.fail<unknown>(error),
    onRight: (parsed) =>
      parsed.help ? Console.log(`${command.usage}\n\n${command.help}`) : program(parsed) as Effect.Effect<void, unknown>
  }).pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.failCause(cause)
        : Effect.flatMap(report(command, cause), (code) => Effect.sync(() => (process.exitCode = code)))
    ),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      disablePrettyLogger: true,
      teardown: (exit, onExit) => onExit(Exit.isFailure(exit) ? 130 : Number(process.exitCode ?? 0))
    })
  )
