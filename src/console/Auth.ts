import { Option, Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import type { Role } from "./Sessions.js"

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest()

/** Equal strings, in a time that says nothing of where they differ (both hashed: lengths may differ). */
export const sameSecret = (given: string, expected: string): boolean => timingSafeEqual(digest(given), digest(expected))

/** The role a token signs in as; both tokens are always compared, so the timing says nothing of which matched. */
export const roleOf = (
  tokens: {
    readonly token: Redacted.Redacted<string>
    readonly readonlyToken: Option.Option<Redacted.Redacted<string>>
  }
) =>
(given: string): Option.Option<Role> => {
  const operator = sameSecret(given, Redacted.value(tokens.token))
  const readonly = Option.match(tokens.readonlyToken, {
    onNone: () => false,
    onSome: (token) => sameSecret(given, Redacted.value(token))
  })
  return operator ? Option.some("operator") : readonly ? Option.some("readonly") : Option.none()
}

/** `Authorization: Bearer <token>`: the token, or undefined without such a header. */
export const bearerToken = (authorization: string | undefined): string | undefined => {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")
  return match === null ? (authorization === undefined ? undefined : "") : match[1]
}

/** Failed sign-ins (and wrong bearer tokens) allowed per remote address in a window, before 429. */
export const MAX_FAILURES = 10
const WINDOW_MS = 60_000
/** Addresses remembered at once: beyond it the oldest windows are forgotten. */
const MAX_ADDRESSES = 10_000

/** Counts failed sign-ins per remote address, per minute. */
export const makeLoginLimiter = (now: () => number = Date.now) => {
  const windows = new Map<string, { start: number; failures: number }>()
  const current = (address: string) => {
    const window = windows.get(address)
    if (window === undefined || now() - window.start >= WINDOW_MS) return undefined
    return window
  }
  return {
    /** True while `address` has used up its failures for this minute. */
    blocked: (address: string): boolean => (current(address)?.failures ?? 0) >= MAX_FAILURES,
    failed: (address: string): void => {
      const window = current(address)
      if (window !== undefined) {
        window.failures++
        return
      }
      windows.delete(address)
      if (windows.size >= MAX_ADDRESSES) windows.delete(windows.keys().next().value!)
      windows.set(address, { start: now(), failures: 1 })
    }
  }
}

export type LoginLimiter = ReturnType<typeof makeLoginLimiter>
