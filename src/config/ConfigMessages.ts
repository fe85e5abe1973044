import type { ConfigError } from "effect"

/** The messages of a config error, one per problem, each starting with the setting's name. */
export const configMessages = (error: ConfigError.ConfigError): ReadonlyArray<string> => {
  switch (error._op) {
    case "And":
    case "Or":
      return [...configMessages(error.left), ...configMessages(error.right)]
    default:
      return [error.message]
  }
}
