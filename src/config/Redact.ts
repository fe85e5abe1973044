/**
 * The one way a configured URL or connection string, or a message that may hold one, is shown: in logs, HTTP answers,
 * dead letters (file and store), errors and the tools' output. A URL keeps its scheme, user name, host, port, path and
 * every other parameter, so that it still says where; what would let someone in becomes `***`.
 */

export const MASK = "***"

/**
 * A parameter (`?name=value`, `#name=value`, a libpq `name=value` setting) whose name, in any case, holds one of these is
 * a secret: `password`, `pass`, `passwd`, `pwd`, `sslpassword`, `secret`, `client_secret`, `token`, `access_token`,
 * `key`, `api_key`, `apikey`, `sig`, `signature`, `auth`, `credential`, ... Hiding a value that was not secret costs a
 * little readability; showing a secret costs the secret.
 */
const SECRET_NAME = /pass|pwd|secret|token|key|sig|auth|credential/i

const decoded = (text: string): string => {
  try {
    return decodeURIComponent(text.replaceAll("+", " "))
  } catch {
    return text
  }
}

type Range = readonly [start: number, end: number]

/** The values of the secret parameters of `a=1&token=x`, which starts at `offset`. */
const parameterRanges = (parameters: string, offset: number): Array<Range> => {
  const ranges: Array<Range> = []
  let at = offset
  for (const pair of parameters.split("&")) {
    const equals = pair.indexOf("=")
    if (equals > 0 && equals < pair.length - 1 && SECRET_NAME.test(decoded(pair.slice(0, equals)))) {
      ranges.push([at + equals + 1, at + pair.length])
    }
    at += pair.length + 1
  }
  return ranges
}

/**
 * The password of `scheme://user:password@host`: for a URL, up to the last `@` of its authority, as URL parsers read
 * it; for text that is not one (a mistyped value, whose password may hold any character), up to its last `@`.
 */
const passwordRange = (text: string): Array<Range> => {
  const slashes = text.indexOf("//")
  const start = slashes === -1 ? 0 : slashes + 2
  const userInfo = URL.canParse(text) ? text.slice(start).split(/[/?#\\]/, 1)[0]! : text.slice(start)
  const at = userInfo.lastIndexOf("@")
  const colon = userInfo.indexOf(":")
  return colon !== -1 && colon < at - 1 ? [[start + colon + 1, start + at]] : []
}

/** `name=value` settings of a libpq keyword string (`host=db password='a b'`): group 1 up to the value. */
const SETTING = /(?<![\w.-])([A-Za-z][\w.-]*\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;,#]*)/g

const settingRanges = (text: string): Array<Range> =>
  [...text.matchAll(SETTING)].filter((match) => match[2] !== "" && SECRET_NAME.test(match[1]!)).map((match) => {
    const start = match.index + match[1]!.length
    return [start, start + match[2]!.length] as const
  })

/** Where the secrets of a URL or connection string are, in order, overlapping ones merged. */
const secretRanges = (text: string): Array<Range> => {
  const hash = text.indexOf("#")
  const beforeHash = hash === -1 ? text : text.slice(0, hash)
  const query = beforeHash.indexOf("?")
  const ranges = [
    ...passwordRange(text),
    ...(query === -1 ? [] : parameterRanges(beforeHash.slice(query + 1), query + 1)),
    ...(hash === -1 ? [] : parameterRanges(text.slice(hash + 1), hash + 1)),
    ...settingRanges(text)
  ].sort((a, b) => a[0] - b[0])
  const merged: Array<[number, number]> = []
  for (const [start, end] of ranges) {
    const last = merged.at(-1)
    if (last !== undefined && start <= last[1]) last[1] = Math.max(last[1], end)
    else merged.push([start, end])
  }
  return merged
}

/**
 * `url` as it may be shown: the password of `user:password@` and the values of secret parameters (see `SECRET_NAME`:
 * in the query, the fragment, or the settings of a libpq keyword string) become `***`; the rest is kept as written.
 */
export const redactUrl = (url: URL | string): string => {
  const text = typeof url === "string" ? url : url.href
  let shown = ""
  let at = 0
  for (const [start, end] of secretRanges(text)) {
    shown += `${text.slice(at, start)}${MASK}`
    at = end
  }
  return shown + text.slice(at)
}

/**
 * What `redactUrl` hides in `url`, each as written and decoded: for `redactText`, since a client library's own message
 * may quote them apart from their URL.
 */
export const secretsOf = (url: URL | string): ReadonlyArray<string> => {
  const text = typeof url === "string" ? url : url.href
  const found = secretRanges(text).flatMap(([start, end]) => {
    const secret = text.slice(start, end)
    return [secret, decoded(secret), secret.replace(/^'(.*)'$/, "$1")]
  })
  return [...new Set(found)].filter((secret) => secret !== "" && secret !== MASK)
}

/** A URL in running text; its trailing punctuation belongs to the sentence. */
const URL_IN_TEXT = /[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s"'<>`]*[^\s"'<>`).,;:!?\]}]/g

/**
 * `text` (an error message, possibly a client library's own) as it may be shown: every URL in it through `redactUrl`,
 * then each of `secrets` (see `secretsOf`) wherever it still appears, as `***`.
 */
export const redactText = (text: string, secrets: ReadonlyArray<string> = []): string => {
  let shown = text.replace(URL_IN_TEXT, redactUrl)
  // Longest first, so that a secret holding a shorter one is hidden whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) shown = shown.replaceAll(secret, MASK)
  return shown
}

/** `redactText` with the secrets of `urls`, found once. */
export const redactor = (...urls: ReadonlyArray<URL | string>): (text: string) => string => {
  const secrets = urls.flatMap(secretsOf)
  return (text) => redactText(text, secrets)
}
