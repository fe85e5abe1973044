import { Effect, Either, Option, type Redacted } from "effect"
import { bearerToken, type LoginLimiter, roleOf } from "./Auth.js"
import { originAllowed } from "./Csrf.js"
import * as Login from "./Pages/Login.js"
import { html, json, problem, redirect, type Reply } from "./Reply.js"
import type { ConsoleRequest } from "./Request.js"
import type { Role, Sessions } from "./Sessions.js"

export const COOKIE = "console_session"

/** Who sent a request: a session (with its CSRF token and cookie id) or a script with a bearer token. */
export type Principal =
  | { readonly via: "session"; readonly id: string; readonly role: Role; readonly csrf: string }
  | { readonly via: "bearer"; readonly role: Role }

const cookieOf = (header: string | undefined, name: string): string | undefined => {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=")
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim()
  }
  return undefined
}

/**
 * Signing in with a token (a session in an HttpOnly, SameSite=Strict cookie; no `Secure`: the console speaks plain
 * HTTP), signing out, and who sent a request. Failed sign-ins and wrong bearer tokens count against the address.
 */
export const makeAccess = (
  tokens: {
    readonly token: Redacted.Redacted<string>
    readonly readonlyToken: Option.Option<Redacted.Redacted<string>>
  },
  sessions: Sessions,
  limiter: LoginLimiter
) => {
  const tokenRole = roleOf(tokens)
  const cookie = (id: string, maxAge: number) => `${COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}`
  const sessionOf = (request: ConsoleRequest) => {
    const id = cookieOf(request.headers.cookie, COOKIE)
    const session = id === undefined ? undefined : sessions.get(id)
    return id === undefined || session === undefined ? undefined : { id, session }
  }

  const signIn = (request: ConsoleRequest) =>
    Effect.gen(function*() {
      if (!originAllowed(request.headers.origin, request.headers.host)) {
        return problem(403, "forbidden", "this form was sent from another site", "html")
      }
      if (limiter.blocked(request.remote)) {
        return html(429, Login.render("Too many failed sign-ins: wait a minute."), { "retry-after": "60" })
      }
      const role = tokenRole(request.form.get("token") ?? "")
      if (Option.isNone(role)) {
        limiter.failed(request.remote)
        yield* Effect.logWarning("console sign-in refused").pipe(Effect.annotateLogs("remote", request.remote))
        return html(401, Login.render("Wrong token."))
      }
      const { id } = sessions.create(role.value)
      yield* Effect.logInfo("console sign-in").pipe(Effect.annotateLogs({ remote: request.remote, role: role.value }))
      return redirect("/", { "set-cookie": cookie(id, Math.floor(sessions.ttlMs / 1000)) })
    })

  const signOut = (principal: Principal): Reply => {
    if (principal.via === "session") sessions.remove(principal.id)
    return redirect("/login", { "set-cookie": cookie("", 0) })
  }

  /** The principal, or the answer to a request without one (to /login for a page, 401 otherwise). */
  const authenticate = (request: ConsoleRequest): Either.Either<Principal, Reply> => {
    const bearer = bearerToken(request.headers.authorization)
    if (bearer !== undefined) {
      if (limiter.blocked(request.remote)) {
        return Either.left(json(429, { error: "too_many_failures", message: "wait a minute" }, { "retry-after": "60" }))
      }
      const role = tokenRole(bearer)
      if (Option.isSome(role)) return Either.right({ via: "bearer", role: role.value })
      limiter.failed(request.remote)
      return Either.left(json(401, { error: "unauthorized", message: "wrong bearer token" }))
    }
    const signedIn = sessionOf(request)
    if (signedIn !== undefined) {
      const { id, session } = signedIn
      return Either.right({ via: "session", id, role: session.role, csrf: session.csrf })
    }
    return Either.left(
      request.method === "GET" && !request.path.startsWith("/api/")
        ? redirect("/login")
        : json(401, { error: "unauthorized", message: "sign in at /login, or send Authorization: Bearer <token>" })
    )
  }

  return { signIn, signOut, authenticate, signedIn: (request: ConsoleRequest) => sessionOf(request) !== undefined }
}

export type Access = ReturnType<typeof makeAccess>
