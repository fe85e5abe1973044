import type { LoggedNotification } from "../../store/NotificationLog.js"
import { cell, escape, page, type Viewer } from "../Html.js"
import { type Listing, MAX_SCAN, PAGE_SIZE } from "../Listing.js"
import { cursorText, type SearchForm } from "../Search.js"

/** `match`, `mismatch`, or `no schema` for a topic this service has none for. */
export const schemaOf = (logged: LoggedNotification): string =>
  logged.schemaMismatch !== null ? "mismatch" : logged.topic === null ? "no schema" : "match"

/** A row as `/api/notifications` gives it: what `/console.js` rebuilds the table from. */
export const rowJson = (logged: LoggedNotification) => ({
  seq: logged.seq,
  receivedAt: logged.receivedAt.toISOString(),
  notificationId: logged.notificationId,
  topic: logged.topic,
  intercomTopic: logged.intercomTopic,
  appId: logged.appId,
  entity: logged.entity,
  outcome: logged.outcome,
  schema: schemaOf(logged),
  schemaMismatch: logged.schemaMismatch,
  sinks: logged.sinks
})

/** The line under the table, which `/console.js` writes too. */
const status = (listing: Listing) =>
  listing.rows.length === 0
    ? "No notification matches."
    : `${listing.rows.length} notification(s), newest first.${
      listing.partial
        ? ` Looked through ${MAX_SCAN} notifications for the terms the store cannot search together: Older goes on.`
        : ""
    }`

export const listingJson = (listing: Listing, now: number) => ({
  now,
  rows: listing.rows.map(rowJson),
  older: listing.older === undefined ? null : cursorText(listing.older),
  partial: listing.partial,
  status: status(listing)
})

/** What `/console.js` writes too when it rebuilds the rows: keep both in step. */
const row = (logged: LoggedNotification) =>
  `<tr><td class="time"><a href="/notifications/${logged.seq}">${escape(logged.receivedAt.toISOString())}</a></td>${
    [
      cell(logged.notificationId ?? "(none)"),
      cell(logged.topic ?? "(none)"),
      cell(logged.intercomTopic),
      cell(logged.entity),
      cell(logged.outcome),
      cell(schemaOf(logged), `schema-${schemaOf(logged).replace(" ", "-")}`)
    ].join("")
  }</tr>`

const field = (name: string, label: string, value: string, placeholder: string, className = "") =>
  `<label>${escape(label)} <input type="text" name="${escape(name)}" value="${escape(value)}" placeholder="${
    escape(placeholder)
  }"${className === "" ? "" : ` class="${escape(className)}"`}></label>`

const searchForm = (form: SearchForm) =>
  `<form method="get" action="/notifications" class="filter search">
${field("q", "search", form.q, "contact id, notification id, topic", "query")}
${field("since", "since", form.since, "2026-01-10T00:00:00Z")}
${field("until", "until", form.until, "2026-01-11T00:00:00Z")}
<button type="submit">Search</button>
</form>
<p class="hint">Terms, all of which must hold: <code>topic:</code><var>topic</var> (or a bare topic such as
<code>contacts.created</code> or <code>contact.user.created</code>), <code>id:</code><var>notification id</var>,
<code>contact:</code><var>id</var>, <code>conversation:</code><var>id</var>, <code>entity:</code><var>key</var>; a bare
id finds the notification with that id and those about that contact or conversation.</p>`

const olderLink = (form: SearchForm, listing: Listing) => {
  const query = new URLSearchParams({ q: form.q, since: form.since, until: form.until })
  if (listing.older !== undefined) query.set("after", cursorText(listing.older))
  return `<a id="older" rel="next" href="/notifications?${escape(query.toString())}"${
    listing.older === undefined ? " hidden" : ""
  }>Older</a>`
}

const table = (form: SearchForm, listing: Listing) => {
  // The first page follows new notifications; an older page stays as it is.
  const live = form.after === ""
    ? ` data-poll="${
      escape(`/api/notifications?${new URLSearchParams({ q: form.q, since: form.since, until: form.until })}`)
    }"`
    : ""
  return `<table id="notification-list">
<thead><tr><th>received at</th><th>notification id</th><th>topic</th><th>Intercom topic</th><th>about</th><th>outcome</th><th>schema</th></tr></thead>
<tbody id="notifications"${live}>${listing.rows.map(row).join("")}</tbody>
</table>
<p class="hint"><span id="listing-status">${escape(status(listing))}</span> ${olderLink(form, listing)}${
    live === "" ? "" : ` Updated every 2 seconds; ${PAGE_SIZE} a page.`
  }</p>`
}

export const render = (
  form: SearchForm,
  result: { readonly _tag: "listed"; readonly listing: Listing } | {
    readonly _tag: "invalid"
    readonly message: string
  },
  viewer: Viewer,
  logOn: boolean
): string =>
  page(
    "Notifications",
    `${searchForm(form)}
${
      logOn
        ? ""
        : `<p class="error">The notification log is off (NOTIFICATION_LOG_RETENTION=off): nothing new is listed.</p>`
    }
${
      result._tag === "invalid"
        ? `<p class="error" role="alert">${escape(result.message)}</p>`
        : table(form, result.listing)
    }`,
    viewer,
    "/notifications"
  )
