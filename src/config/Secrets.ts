import { Config, ConfigError, Either, Option, Redacted } from "effect"
import { invalid } from "./Values.js"

/**
 * Intercom does not publish the length of its client secrets; the ones it issues are long random strings. Below 16
 * characters a value is a placeholder or a typo, not a generated secret, and anyone can guess it and sign notifications.
 */
export const MIN_CLIENT_SECRET_LENGTH = 16

const REQUIRED = "INTERCOM_CLIENT_SECRET is required: the app's client secret from the Intercom Developer Hub " +
  "(Basic Info); several, comma-separated, while rotating"

/** `INTERCOM_CLIENT_SECRET`: one secret, or several comma-separated while rotating; never an empty one among them. */
export const clientSecrets = Config.option(Config.string("INTERCOM_CLIENT_SECRET")).pipe(
  Config.mapOrFail((value) => {
    const list = Option.getOrElse(value, () => "").split(",").map((secret) => secret.trim())
    if (list.every((secret) => secret.length === 0)) {
      return Either.left(ConfigError.MissingData(["INTERCOM_CLIENT_SECRET"], REQUIRED))
    }
    const empty = list.findIndex((secret) => secret.length === 0)
    return empty === -1
      ? Either.right(list.map((secret) => Redacted.make(secret)))
      : Either.left(invalid(
        "INTERCOM_CLIENT_SECRET",
        `has an empty entry (number ${empty + 1} of ${list.length}): give the secrets separated by single commas`
      ))
  })
)

/** What to warn about secrets too short to be Intercom's; never their values or lengths. */
export const shortSecretWarnings = (
  secrets: ReadonlyArray<Redacted.Redacted<string>>,
  name = "INTERCOM_CLIENT_SECRET"
): ReadonlyArray<string> =>
  secrets.flatMap((secret, index) =>
    Redacted.value(secret).length < MIN_CLIENT_SECRET_LENGTH
      ? [
        `${name} number ${index + 1} of ${secrets.length} is shorter than ` +
        `${MIN_CLIENT_SECRET_LENGTH} characters: Intercom's client secrets are long random strings, and a short one is ` +
        "easy to guess; use the app's client secret from the Developer Hub (Basic Info)"
      ]
      : []
  )

/** Standard Webhooks keys are `whsec_` + base64 (the standard or the URL-safe alphabet, padding optional). */
const isBase64Key = (text: string): boolean => {
  const body = text.replace(/={1,2}$/, "")
  const padded = body.length !== text.length
  return (/^[A-Za-z0-9+/]+$/.test(body) || /^[A-Za-z0-9_-]+$/.test(body)) && body.length % 4 !== 1 &&
    (!padded || text.length % 4 === 0)
}

const WANTED = "must be whsec_ followed by the key in base64 (as Standard Webhooks gives it), or another string " +
  "used as its UTF-8 bytes"

/** `FORWARD_SIGNING_SECRET`: unset (unsigned), `whsec_<base64>`, or any other non-empty string; never shown. */
export const signingSecret = Config.option(Config.redacted("FORWARD_SIGNING_SECRET")).pipe(
  Config.mapOrFail((value) => {
    if (Option.isNone(value)) return Either.right(Option.none<Redacted.Redacted<string>>())
    const text = Redacted.value(value.value)
    if (text.trim() === "") {
      return Either.left(invalid("FORWARD_SIGNING_SECRET", `is empty: unset it to forward unsigned; it ${WANTED}`))
    }
    if (!text.startsWith("whsec_") || isBase64Key(text.slice("whsec_".length))) return Either.right(value)
    return Either.left(invalid(
      "FORWARD_SIGNING_SECRET",
      `${WANTED}; got whsec_ and ${text.length === "whsec_".length ? "no key" : "a key that is not base64"}`
    ))
  })
)
