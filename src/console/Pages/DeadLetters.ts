import { Effect } from "effect"
import { redactText } from "../../config/Redact.js"
import { Outbox, type ReplayFilter, type WaitingDeadLetter } from "../../store/Outbox.js"
import type { Filter } from "../Filter.js"
import { reasons } from "../Filter.js"
import { cell, csrfField, escape, page, type Viewer } from "../Html.js"

export const PAGE_SIZE = 100
/** Dead letters read at most for one page: the store filters no reason, so the listing does, over these. */
export const MAX_SCAN = 10_000
export const MAX_PAGE = MAX_SCAN / PAGE_SIZE

export interface Listing {
  readonly rows: ReadonlyArray<WaitingDeadLetter>
  readonly page: number
  readonly more: boolean
  /** True when the reason was looked for only among the oldest `MAX_SCAN` dead letters of the store's filter. */
  readonly partial: boolean
}

/** Page `page` (from 1) of the dead letters still waiting that match, oldest first. */
export const listing = (filter: ReplayFilter, reason: string, page: number) =>
  Effect.gen(function*() {
    const outbox = yield* Outbox
    const end = page * PAGE_SIZE
    const scan = reason === "" ? end + 1 : MAX_SCAN + 1
    const read = yield* outbox.deadLetters(filter, scan)
    const matching = reason === "" ? read : read.slice(0, MAX_SCAN).filter((letter) => letter.reason === reason)
    return {
      rows: matching.slice(end - PAGE_SIZE, end),
      page,
      more: matching.length > end && page < MAX_PAGE,
      partial: reason !== "" && read.length > MAX_SCAN
    } satisfies Listing
  })

const link = (filter: Filter, page: number) => {
  const query = new URLSearchParams({ ...filter, page: String(page) })
  return `/dead-letters?${query}`
}

/** The checkbox of a row: part of the selection form, for operators. */
const select = (letter: WaitingDeadLetter, viewer: Viewer) =>
  viewer.role === "operator"
    ? `<td><input type="checkbox" name="id" value="${letter.id}" form="selection" aria-label="select ${letter.id}"></td>`
    : ""

const row = (letter: WaitingDeadLetter, viewer: Viewer) =>
  `<tr>${select(letter, viewer)}${
    [
      cell(String(letter.id), "number"),
      cell(letter.deadAt.toISOString()),
      cell(letter.sink ?? "(none)"),
      cell(letter.reason),
      cell(letter.topic ?? letter.intercomTopic),
      cell(letter.notificationId ?? ""),
      cell(redactText(letter.error))
    ].join("")
  }</tr>`

const field = (name: string, label: string, value: string, placeholder = "") =>
  `<label>${escape(label)} <input type="text" name="${escape(name)}" value="${escape(value)}"${
    placeholder === "" ? "" : ` placeholder="${escape(placeholder)}"`
  }></label>`

const filterForm = (filter: Filter) =>
  `<form method="get" action="/dead-letters" class="filter">
${field("sink", "sink", filter.sink)}
<label>reason <select name="reason"><option value="">any</option>${
    reasons.map((reason) =>
      `<option value="${escape(reason)}"${reason === filter.reason ? " selected" : ""}>${escape(reason)}</option>`
    ).join("")
  }</select></label>
${field("topic", "topic", filter.topic)}
${field("since", "dead since", filter.since, "2026-01-10T00:00:00Z")}
<button type="submit">Filter</button>
</form>`

const replayForm = (filter: Filter, viewer: Viewer) => {
  if (viewer.role !== "operator") {
    return `<p class="hint">Signed in read-only: replay and discard are for operators.</p>`
  }
  const hidden = (name: keyof Filter) => `<input type="hidden" name="${escape(name)}" value="${escape(filter[name])}">`
  const described = [
    filter.sink === "" ?
      "every sink (dead letters without a sink are left alone: name a sink to send them to it)" :
      `sink ${filter.sink} (with those without a sink, sent to it)`,
    filter.topic === "" ? "" : `topic ${filter.topic}`,
    filter.since === "" ? "" : `dead since ${filter.since}`
  ].filter((part) => part !== "").join(", ")
  return `<form method="post" action="/dead-letters/replay" class="replay">
${csrfField(viewer)}${hidden("sink")}${hidden("topic")}${hidden("since")}${hidden("reason")}
<p>Replay puts the dead letters of ${escape(described)} back into the outbox, as <code>npm run replay</code> does.${
    filter.reason === "" ? "" : " The reason filter does not narrow a replay: every reason of this filter is replayed."
  }</p>
<button type="submit" name="action" value="replay">Replay</button>
<button type="submit" formaction="/dead-letters/discard" name="action" value="discard">Discard all that match…</button>
</form>`
}

/** Replay or discard the rows ticked in the table (their checkboxes name this form). */
const selectionForm = (viewer: Viewer) =>
  viewer.role === "operator"
    ? `<form id="selection" method="post" action="/dead-letters/replay" class="selection">${csrfField(viewer)}
<button type="submit" name="action" value="replay-selected">Replay selected</button>
<button type="submit" formaction="/dead-letters/discard" name="action" value="discard-selected">Discard selected…</button>
</form>`
    : ""

/**
 * Asks before discarding: how many dead letters the filter or the selection takes, and that it cannot be undone.
 * The form sends the same fields again with `confirmed=yes`.
 */
export const renderConfirmDiscard = (
  filter: Filter,
  ids: ReadonlyArray<number>,
  count: number,
  capped: boolean,
  viewer: Viewer
): string => {
  const hidden = (name: string, value: string) =>
    `<input type="hidden" name="${escape(name)}" value="${escape(value)}">`
  const fields = ids.length > 0
    ? ids.map((id) => hidden("id", String(id))).join("")
    : (["sink", "topic", "since"] as const).map((name) => hidden(name, filter[name])).join("")
  const what = ids.length > 0
    ? "selected dead letter(s)"
    : `dead letter(s) matching the filter${filter.sink === "" ? " (those without a sink too)" : ""}`
  return page(
    "Discard dead letters",
    `<form method="post" action="/dead-letters/discard" class="confirm">
${csrfField(viewer)}${fields}${hidden("confirmed", "yes")}
<p>Discard <strong id="discard-count">${escape(`${count}${capped ? "+" : ""}`)}</strong> ${
      escape(what)
    }? They leave the store for good and cannot be replayed; their lines stay in the dead-letter file.</p>
<button type="submit" class="danger">Discard</button> <a href="/dead-letters">Cancel</a>
</form>`,
    viewer,
    "/dead-letters"
  )
}

export const render = (
  filter: Filter,
  result: { readonly _tag: "listed"; readonly listing: Listing } | {
    readonly _tag: "invalid"
    readonly message: string
  },
  viewer: Viewer,
  flash: string | undefined
): string => {
  const body = result._tag === "invalid"
    ? `<p class="error">${escape(result.message)}</p>`
    : `${
      result.listing.partial
        ? `<p class="hint">The reason was looked for among the oldest ${MAX_SCAN} dead letters of this filter only: narrow it with sink, topic or since.</p>`
        : ""
    }<table id="dead-letters">
<thead><tr>${
      viewer.role === "operator" ? "<th></th>" : ""
    }<th>id</th><th>dead at</th><th>sink</th><th>reason</th><th>topic</th><th>notification id</th><th>error</th></tr></thead>
<tbody>${result.listing.rows.map((letter) => row(letter, viewer)).join("")}</tbody>
</table>
<p class="hint">${
      result.listing.rows.length === 0
        ? "No dead letter waiting matches."
        : `Page ${result.listing.page}, oldest first.`
    }${result.listing.more ? ` <a href="${escape(link(filter, result.listing.page + 1))}" rel="next">more</a>` : ""}</p>
${result.listing.rows.length === 0 ? "" : selectionForm(viewer)}
${replayForm(filter, viewer)}`
  return page(
    "Dead letters",
    `${flash === undefined ? "" : `<p class="flash" role="status">${escape(flash)}</p>`}
${filterForm(filter)}
${body}`,
    viewer,
    "/dead-letters"
  )
}
