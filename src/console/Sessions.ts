import { createHash, randomBytes } from "node:crypto"

export type Role = "operator" | "readonly"

export interface Session {
  readonly role: Role
  /** Every form of the session carries it; a POST without it is refused. */
  readonly csrf: string
  readonly expiresAt: number
}

/** Sessions held at once; the oldest goes first (each sign-in makes one, and anyone holding a token may sign in). */
const MAX_SESSIONS = 1000

/** A random 32-byte value, as cookie and form text. */
export const randomToken = (): string => randomBytes(32).toString("base64url")

/** Sessions are kept by a hash of their id: a map look-up then reveals nothing of an id by its timing. */
const keyOf = (id: string) => createHash("sha256").update(id, "utf8").digest("base64url")

/** The console's sessions, in memory: a restart signs everyone out. */
export const makeSessions = (ttlMs: number, now: () => number = Date.now) => {
  const sessions = new Map<string, Session>()
  const prune = () => {
    const at = now()
    for (const [key, session] of sessions) if (session.expiresAt <= at) sessions.delete(key)
    while (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!)
  }
  return {
    ttlMs,
    /** A new session; its id goes in the cookie, and only there. */
    create: (role: Role): { readonly id: string; readonly session: Session } => {
      prune()
      const id = randomToken()
      const session = { role, csrf: randomToken(), expiresAt: now() + ttlMs }
      sessions.set(keyOf(id), session)
      return { id, session }
    },
    get: (id: string): Session | undefined => {
      const key = keyOf(id)
      const session = sessions.get(key)
      if (session === undefined || session.expiresAt > now()) return session
      sessions.delete(key)
      return undefined
    },
    remove: (id: string): void => void sessions.delete(keyOf(id))
  }
}

export type Sessions = ReturnType<typeof makeSessions>
