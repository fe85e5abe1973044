import { sameSecret } from "./Auth.js"

/**
 * Whether a POST may act. Any POST whose `Origin` is present and not the console's own (`http://` + its `Host`) is
 * refused, bearer or not; a POST of a session must also carry the session's CSRF token in its `csrf` field.
 */
export const originAllowed = (origin: string | undefined, host: string | undefined): boolean =>
  origin === undefined || (host !== undefined && origin === `http://${host}`)

export const csrfValid = (given: string | undefined, expected: string): boolean =>
  given !== undefined && given !== "" && sameSecret(given, expected)
