import { Effect, Either } from "effect"
import { redactText } from "../config/Redact.js"
import type { SinkHealths } from "../pipeline/Delivery/SinkHealth.js"
import type { Decoder } from "../pipeline/Notification.js"
import type { NotificationLogStore } from "../store/NotificationLog.js"
import { Outbox } from "../store/Outbox.js"
import type { ReconcileStore } from "../store/Reconcile.js"
import type { Access, Principal } from "./Access.js"
import * as Assets from "./Assets.js"
import { csrfValid, originAllowed } from "./Csrf.js"
import { filterOf, replayFilter, storeFilter } from "./Filter.js"
import type { Viewer } from "./Html.js"
import * as Notifications from "./Notifications.js"
import * as DeadLetters from "./Pages/DeadLetters.js"
import * as Login from "./Pages/Login.js"
import * as OverviewPage from "./Pages/Overview.js"
import { html, json, problem, redirect, type Reply } from "./Reply.js"
import { answersJson, type ConsoleRequest } from "./Request.js"
import { overview } from "./Status.js"

const assets: Record<string, { readonly type: string; readonly body: string }> = {
  "/console.css": { type: "text/css; charset=utf-8", body: Assets.css },
  "/console.js": { type: "text/javascript; charset=utf-8", body: Assets.js }
}

/** The ids of the rows ticked in the dead-letter table (none: the filter decides). */
const idsOf = (form: URLSearchParams): ReadonlyArray<number> =>
  form.getAll("id").filter((id) => /^\d{1,15}$/.test(id)).map(Number).slice(0, MAX_SELECTED)

/** Rows one form may name. */
const MAX_SELECTED = 1000

/** Dead letters counted at most on the page that asks before discarding. */
const CONFIRM_SCAN = 10_000

const digits = (text: string | null, fallback: number, max: number) =>
  text !== null && /^\d{1,6}$/.test(text) ? Math.min(Math.max(Number(text), fallback), max) : fallback

/** Paths answered with a GET or a POST: any other method is 405 there, any other path 404. */
const KNOWN = [
  "/",
  "/api/overview",
  "/dead-letters",
  "/dead-letters/replay",
  "/dead-letters/discard",
  "/notifications",
  "/api/notifications",
  "/logout"
]

/** What the console reads: the store's three parts, the sinks' health, and the decoder for the mirror's view. */
export type Requirements = Outbox | SinkHealths | NotificationLogStore | ReconcileStore | Decoder

/**
 * The console's answer to one request: authentication, CSRF, roles, then the page or action. `logOn`: whether the
 * notification log is kept (the notification pages say when it is not).
 */
export const makeRoutes = (access: Access, logOn: boolean) => {
  /**
   * What a replay or a discard acts on: the rows ticked (`id`), or else the form's filter; or the answer refusing it
   * (not an operator, a wrong filter). Also what its log line says.
   */
  const chosen = (request: ConsoleRequest, principal: Principal, viewer: Viewer, as: "html" | "json", what: string) => {
    if (principal.role !== "operator") {
      return Either.left(problem(403, "forbidden", `${what} is for operators`, as, viewer))
    }
    const filter = filterOf(request.form)
    const checked = replayFilter(filter)
    if (Either.isLeft(checked)) return Either.left(problem(400, "invalid_filter", checked.left, as, viewer))
    const ids = idsOf(request.form)
    return Either.right({
      filter,
      ids,
      picked: ids.length > 0 ? { ...checked.right, ids } : checked.right,
      logged: {
        sink: filter.sink,
        topic: filter.topic,
        since: filter.since,
        ids: ids.length,
        via: principal.via
      }
    })
  }

  const replay = (request: ConsoleRequest, principal: Principal, viewer: Viewer, as: "html" | "json") =>
    Effect.gen(function*() {
      const choice = chosen(request, principal, viewer, as, "replay")
      if (Either.isLeft(choice)) return choice.left
      const { filter, logged, picked } = choice.right
      const replayed = yield* (yield* Outbox).replay(picked)
      yield* Effect.logInfo("console replay").pipe(Effect.annotateLogs({ ...logged, replayed }))
      return as === "json"
        ? json(200, { replayed })
        : redirect(`/dead-letters?${new URLSearchParams({ ...filter, replayed: String(replayed) })}`)
    })

  /** Without `confirmed=yes`, the page that asks (or a 400 for a script); with it, the discard. */
  const discard = (request: ConsoleRequest, principal: Principal, viewer: Viewer, as: "html" | "json") =>
    Effect.gen(function*() {
      const choice = chosen(request, principal, viewer, as, "discard")
      if (Either.isLeft(choice)) return choice.left
      const { filter, ids, logged, picked } = choice.right
      const outbox = yield* Outbox
      if (request.form.get("confirmed") !== "yes") {
        if (as === "json") {
          return problem(400, "not_confirmed", "send confirmed=yes to discard: it cannot be undone", as, viewer)
        }
        const found = yield* outbox.deadLetters(picked, CONFIRM_SCAN + 1)
        const count = Math.min(found.length, CONFIRM_SCAN)
        return html(200, DeadLetters.renderConfirmDiscard(filter, ids, count, found.length > CONFIRM_SCAN, viewer))
      }
      const discarded = yield* outbox.discard(picked)
      yield* Effect.logWarning("console discard").pipe(Effect.annotateLogs({ ...logged, discarded }))
      return as === "json"
        ? json(200, { discarded })
        : redirect(`/dead-letters?${new URLSearchParams({ discarded: String(discarded) })}`)
    })

  const deadLetters = (request: ConsoleRequest, viewer: Viewer) =>
    Effect.gen(function*() {
      const filter = filterOf(request.query)
      const replayed = request.query.get("replayed")
      const discarded = request.query.get("discarded")
      const flash = replayed !== null && /^\d{1,9}$/.test(replayed)
        ? `Replayed ${replayed} dead letter(s).`
        : discarded !== null && /^\d{1,9}$/.test(discarded)
        ? `Discarded ${discarded} dead letter(s).`
        : undefined
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
        if (request.method === "POST") return yield* access.signIn(request)
        if (access.signedIn(request)) return redirect("/")
        return html(200, Login.render())
      }
      const authenticated = access.authenticate(request)
      if (Either.isLeft(authenticated)) return authenticated.left
      const principal = authenticated.right
      const viewer: Viewer = { role: principal.role, csrf: principal.via === "session" ? principal.csrf : undefined }
      const as = answersJson(request) ? "json" : "html"
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
        case "POST /dead-letters/discard":
          return yield* discard(request, principal, viewer, as)
        case "GET /notifications":
          return yield* Notifications.list(request, viewer, "html", logOn)
        case "GET /api/notifications":
          return yield* Notifications.list(request, viewer, "json", logOn)
        case "POST /logout":
          return access.signOut(principal)
      }
      if (request.path.startsWith("/notifications/")) {
        const seq = Notifications.seqOf(request.path)
        if (request.method === "GET") return yield* Notifications.one(seq, viewer, as)
        if (seq !== undefined) return problem(405, "method_not_allowed", "method not allowed", as, viewer)
      }
      return KNOWN.includes(request.path)
        ? problem(405, "method_not_allowed", "method not allowed", as, viewer)
        : problem(404, "not_found", "no such page", as, viewer)
    })

  return (request: ConsoleRequest): Effect.Effect<Reply, never, Requirements> =>
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
            answersJson(request) ? "json" : "html"
          )
        ))
    )
}
