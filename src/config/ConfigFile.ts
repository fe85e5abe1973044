import { Config, ConfigError, ConfigProvider, Effect, Either, Layer, Option } from "effect"
import { readFile } from "node:fs/promises"
import { parseJson } from "./JsonText.js"

const invalid = (message: string) => ConfigError.InvalidData(["CONFIG_FILE"], message)

/**
 * Settings come from the environment and, when `CONFIG_FILE` names a JSON file of the same keys
 * (`{"SINKS": "file,http", "PORT": 9000}`), from that file; the environment wins.
 */
export const provider: Effect.Effect<ConfigProvider.ConfigProvider, ConfigError.ConfigError> = Effect.gen(function*() {
  const env = ConfigProvider.fromEnv()
  const path = yield* Effect.withConfigProvider(Config.option(Config.string("CONFIG_FILE")), env)
  if (Option.isNone(path)) return env
  const text = yield* Effect.tryPromise({
    try: () => readFile(path.value, "utf8"),
    catch: (error) => invalid(`CONFIG_FILE ${path.value} cannot be read: ${(error as Error).message}`)
  })
  const json = yield* Either.mapLeft(parseJson(text), (reason) => invalid(`CONFIG_FILE ${path.value} ${reason}`))
  if (
    typeof json !== "object" || json === null || Array.isArray(json) ||
    Object.values(json).some((value) => typeof value === "object" && value !== null)
  ) {
    return yield* Effect.fail(
      invalid(`CONFIG_FILE ${path.value} must hold one JSON object of setting names to strings or numbers`)
    )
  }
  return env.pipe(ConfigProvider.orElse(() => ConfigProvider.fromJson(json)))
})

export const layer = Layer.unwrapEffect(Effect.map(provider, Layer.setConfigProvider))
