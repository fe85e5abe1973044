import { Effect, Either, Option } from "effect"
import { SinkHealths } from "../pipeline/Delivery/SinkHealth.js"
import { MIRROR_SINK } from "../store/Mirror.js"
import { NotificationLogStore } from "../store/NotificationLog.js"
import { sinkDeliveries } from "./Deliveries.js"
import type { Viewer } from "./Html.js"
import { listing } from "./Listing.js"
import { mirrorView } from "./MirrorView.js"
import * as NotificationPage from "./Pages/Notification.js"
import * as NotificationsPage from "./Pages/Notifications.js"
import { html, json, problem, type Reply } from "./Reply.js"
import type { ConsoleRequest } from "./Request.js"
import { formOf, queryOf } from "./Search.js"

/** `/notifications/<seq>`: the seq, or undefined for any other path under it. */
export const seqOf = (path: string): number | undefined => {
  const match = /^\/notifications\/(\d{1,15})$/.exec(path)
  return match === null ? undefined : Number(match[1])
}

/** The list page (`as` html) or its JSON (`/api/notifications`); an invalid search is 400 saying what to fix. */
export const list = (request: ConsoleRequest, viewer: Viewer, as: "html" | "json", logOn: boolean) =>
  Effect.gen(function*() {
    const form = formOf(request.query)
    const query = queryOf(form)
    if (Either.isLeft(query)) {
      return as === "json"
        ? problem(400, "invalid_search", query.left, as)
        : html(400, NotificationsPage.render(form, { _tag: "invalid", message: query.left }, viewer, logOn))
    }
    const found = yield* listing(query.right)
    return as === "json"
      ? json(200, NotificationsPage.listingJson(found, Date.now()))
      : html(200, NotificationsPage.render(form, { _tag: "listed", listing: found }, viewer, logOn))
  })

/** One notification's page: its facts, body, schema, deliveries and, when it went to the mirror, what it changes. */
export const one = (seq: number | undefined, viewer: Viewer, as: "html" | "json") =>
  Effect.gen(function*() {
    const log = yield* NotificationLogStore
    const logged = seq === undefined ? Option.none() : yield* log.get(seq)
    if (Option.isNone(logged)) {
      return problem(404, "not_found", "no such notification in the log (it may have been removed)", as, viewer)
    }
    const healths = yield* SinkHealths
    const found = sinkDeliveries(logged.value.sinks, yield* log.deliveries(logged.value), (sink) => {
      const state = healths.get(sink)?.state
      return state?._tag === "failing" ? state : undefined
    })
    const mirror = logged.value.sinks.includes(MIRROR_SINK) ? yield* mirrorView(logged.value) : undefined
    return html(200, NotificationPage.render(logged.value, found, mirror, viewer, Date.now())) satisfies Reply
  })
