import { Config, type Duration, Either, Option, Redacted } from "effect"
import { isHost } from "./Listen.js"
import { duration, integer, invalid } from "./Values.js"

/** The operator console's settings: on when `CONSOLE_TOKEN` is set. */
export interface ConsoleSettings {
  /** Signs in as an operator (every page and action); none: the console is off. */
  readonly token: Option.Option<Redacted.Redacted<string>>
  /** Signs in read-only (every page, no action). */
  readonly readonlyToken: Option.Option<Redacted.Redacted<string>>
  readonly host: string
  /** 0: any free port. */
  readonly port: number
  readonly sessionTtl: Duration.Duration
}

/** An operator token guards replay: a short one could be guessed. */
export const MIN_TOKEN_LENGTH = 16

const TOKEN = /^[\x21-\x7e]+$/

const token = (name: string) =>
  Config.option(Config.redacted(name)).pipe(
    Config.mapOrFail((value) => {
      const text = Option.map(value, (secret) => Redacted.value(secret).trim()).pipe(Option.filter((t) => t !== ""))
      if (Option.isNone(text)) return Either.right(Option.none<Redacted.Redacted<string>>())
      if (!TOKEN.test(text.value)) {
        return Either.left(invalid(name, "must be printable characters without spaces"))
      }
      return text.value.length < MIN_TOKEN_LENGTH
        ? Either.left(invalid(name, `must be at least ${MIN_TOKEN_LENGTH} characters (it guards replay)`))
        : Either.right(Option.some(Redacted.make(text.value)))
    })
  )

const tokens = Config.all([token("CONSOLE_TOKEN"), token("CONSOLE_READONLY_TOKEN")]).pipe(
  Config.mapOrFail(([operator, readonly]) => {
    if (Option.isNone(operator) && Option.isSome(readonly)) {
      return Either.left(
        invalid("CONSOLE_READONLY_TOKEN", "is set without CONSOLE_TOKEN: the console is on only with an operator token")
      )
    }
    if (Option.isSome(operator) && Option.isSome(readonly)) {
      if (Redacted.value(operator.value) === Redacted.value(readonly.value)) {
        return Either.left(invalid("CONSOLE_READONLY_TOKEN", "must differ from CONSOLE_TOKEN"))
      }
    }
    return Either.right({ token: operator, readonlyToken: readonly })
  })
)

const host = Config.string("CONSOLE_HOST").pipe(
  Config.withDefault("127.0.0.1"),
  Config.mapOrFail((text) =>
    isHost(text.trim())
      ? Either.right(text.trim())
      : Either.left(invalid("CONSOLE_HOST", `must be an IP address (127.0.0.1, ::1) or a host name, got "${text}"`))
  )
)

export const consoleSettings: Config.Config<ConsoleSettings> = Config.all({
  tokens,
  host,
  port: integer("CONSOLE_PORT", 8081, 0, 65535),
  sessionTtl: duration("CONSOLE_SESSION_TTL", "12h", "1m", "30d")
}).pipe(Config.map(({ tokens, ...rest }) => ({ ...tokens, ...rest })))
