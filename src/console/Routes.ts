import { Effect, Either, Option, type Redacted } from "effect"
import type { IncomingHttpHeaders } from "node:http"
import { redactText } from "../config/Redact.js"
import type { SinkHealths } from "../pipeline/Delivery/SinkHealth.js"
import { Outbox } from "../store/Outbox.js"
import * as Assets from "./Assets.js"
import { bearerToken, type LoginLimiter, roleOf } from "./Auth.js"
import { csrfValid, originAllowed } from "./Csrf.js"
import { filterOf, replayFilter, storeFilter } from "./Filter.js"
import type { Viewer } from "./Html.js"
import * as DeadLetters from "./Pages/DeadLetters.js"
import * as Login from "./Pages/Login.js"
import * as OverviewPage from "./Pages/Overview.js"
import { html, json, problem, redirect, type Reply } from "./Reply.js"
import type { Role, Sessions } from "./Sessions.js"
import { overview } from "./Status.js"

export interface ConsoleRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: IncomingHttpHeaders
  /** The urlencoded body of a POST; empty otherwise. */
  readonly form: URLSearchParams
  readonly remote: string
}

export const COOKIE = "console_session"

/** Who sent a request: a session (with its CSRF token and cookie id) or a script with a bearer token. */
type Principal =
  | { readonly via: "session"; readonly id: string; readonly role: Role; readonly csrf: string }
  | { readonly via: "bearer"; readonly role: Role }

const cookieOf = (header: string | undefined, name: string): string | undefined => {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=")
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim()
  }
  return undefined
}

const assets: Record<string, { readonly type: string; readonly body: string }> = {
  "/console.css": { type: "text/css; charset=utf-8", body: Assets.css },
  "/console.js": { type: "text/javascript; charset=utf-8", body: Assets.js }
}

const digits = (text: string | null, fallback: number, max: number) =>
  text !== null && /^\d{1,6}$/.test(text) ? Math.min(Math.max(Number(text), fallback), max) : fallback

/** The console's answer to one request: authentication, CSRF, roles, then the page or action. */
export const makeRoutes = (
  tokens: {
    readonly token: Redacted.Redacted<string>
    readonly readonlyToken: Option.Option<Redacted.Redacted<string>>
  },
  sessions: Sessions,
  limiter: LoginLimiter
) => {
  const tokenRole = roleOf(tokens)
  const cookie = (id: string, maxAge: number) => `${COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}`

  const login = (request: ConsoleRequest) =>
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
      yield* Effect.logInfo("console sign-in").pipe(
        Effect.annotateLogs({ remote: request.remote, role: role.value })
      )
      return redirect("/", { "set-cookie": cookie(id, Math.floor(sessions.ttlMs / 1000)) })
    })

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
    const id = cookieOf(request.headers.cookie, COOKIE)
    const session = id === undefined ? undefined : sessions.get(id)
    if (id !== undefined && session !== undefined) {
      return Either.right({ via: "session", id, role: session.role, csrf: session.csrf })
    }
    return Either.left(
      request.method === "GET" && !request.path.startsWith("/api/")
        ? redirect("/login")
        : json(401, { error: "unauthorized", message: "sign in at /login, or send Authorization: Bearer <token>" })
    )
  }

  const replay = (request: ConsoleRequest, principal: Principal, viewer: Viewer, as: "html" | "json") =>
    Effect.gen(function*() {
      if (principal.role !== "operator") return problem(403, "forbidden", "replay is for operators", as, viewer)
      const filter = filterOf(request.form)
      const checked = replayFilter(filter)
      if (Either.isLeft(checked)) return problem(400, "invalid_filter", checked.left, as, viewer)
      const outbox = yield* Outbox
      const replayed = yield* outbox.replay(checked.right)
      yield* Effect.logInfo("console replay").pipe(
        Effect.annotateLogs({
          replayed,
          sink: filter.sink,
          topic: filter.topic,
          since: filter.since,
          via: principal.via
        })
      )
      return as === "json"
        ? json(200, { replayed })
        : redirect(`/dead-letters?${new URLSearchParams({ ...filter, replayed: String(replayed) })}`)
    })

  const deadLetters = (request: ConsoleRequest, viewer: Viewer) =>
    Effect.gen(function*() {
      const filter = filterOf(request.query)
      const replayed = request.query.get("replayed")
      const flash = replayed !== null && /^\d{1,9}$/.test(replayed) ? `Replayed ${replayed} dead letter(s).` : undefined
      const checked = storeFilter(filter)
      if (Either.isLeft(checked)) {
        return html(400, DeadLetters.render(filter, { _tag: "invalid", message: checked.left }, viewer, flash))
      }
      const page = digits(request.query.get("page"), 1, DeadLetters.MAX_PAGE)
      const listing = yield* DeadLetters.listing(checked.right, filter.reason, page)
      return html(200, DeadLetters.render(filter, { _tag: "listed", listing }, viewer, flash))
    })

  const answer = (request: ConsoleRequest) =>
    Effect.gen(function*() {
      const asset = assets[request.path]
      if (asset !== undefined && request.method === "GET") {
        return { status: 200, headers: { "content-type": asset.type }, body: asset.body } satisfies Reply
      }
      if (request.path === "/login") {
        if (request.method === "POST") return yield* login(request)
        const id = cookieOf(request.headers.cookie, COOKIE)
        if (id !== undefined && sessions.get(id) !== undefined) return redirect("/")
        return html(200, Login.render())
      }
      const authenticated = authenticate(request)
      if (Either.isLeft(authenticated)) return authenticated.left
      const principal = authenticated.right
      const viewer: Viewer = { role: principal.role, csrf: principal.via === "session" ? principal.csrf : undefined }
      const as = principal.via === "bearer" || request.path.startsWith("/api/") ? "json" : "html"
      if (request.method === "POST") {
        if (!originAllowed(request.headers.origin, request.headers.host)) {
          return problem(403, "forbidden", "this form was sent from another site", as, viewer)
        }
        if (principal.via === "session" && !csrfValid(request.form.get("csrf") ?? undefined, principal.csrf)) {
          return problem(403, "forbidden", "the form's CSRF token is missing or wrong: reload the page", as, viewer)
        }
      }
      const key = `${request.method} ${request.path}`
      switch (key) {
        case "GET /":
          return html(200, OverviewPage.render(yield* overview, viewer))
        case "GET /api/overview":
          return json(200, yield* overview)
        case "GET /dead-letters":
          return yield* deadLetters(request, viewer)
        case "POST /dead-letters/replay":
          return yield* replay(request, principal, viewer, as)
        case "POST /logout":
          if (principal.via === "session") sessions.remove(principal.id)
          return redirect("/login", { "set-cookie": cookie("", 0) })
      }
      const known = ["/", "/api/overview", "/dead-letters", "/dead-letters/replay", "/logout"].includes(request.path)
      return known
        ? problem(405, "method_not_allowed", "method not allowed", as, viewer)
        : problem(404, "not_found", "no such page", as, viewer)
    })

  return (request: ConsoleRequest): Effect.Effect<Reply, never, Outbox | SinkHealths> =>
    answer(request).pipe(
      Effect.catchTag("StoreUnavailable", (error) =>
        Effect.as(
          Effect.logWarning("console: the store is unavailable").pipe(
            Effect.annotateLogs("error", redactText(error.message))
          ),
          problem(
            503,
            "store_unavailable",
            "the store is unavailable right now: try again",
            request.headers.authorization !== undefined || request.path.startsWith("/api/") ? "json" : "html"
          )
        ))
    )
}
