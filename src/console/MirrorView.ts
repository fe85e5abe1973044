import { Effect, Either } from "effect"
import { type MirrorChange, mirrorChanges } from "../mirror/Rows.js"
import { Decoder } from "../pipeline/Notification.js"
import { verifiedBeforeStoring } from "../pipeline/Signature.js"
import { type MirrorTable, mirrorTable } from "../store/Mirror.js"
import type { LoggedNotificationWithBody } from "../store/NotificationLog.js"
import { type HeldVersion, ReconcileStore } from "../store/Reconcile.js"
import { cell, escape, shortened } from "./Html.js"

/**
 * How the mirror's row stands against this notification's change: it holds this version (`current`), a newer one
 * (`superseded`), an older one (`older`: the change is not applied yet), or no row (`absent`). Tag links have no
 * version (`unversioned`).
 */
export type Standing = "current" | "superseded" | "older" | "absent" | "unversioned"

export interface ChangeView {
  readonly change: MirrorChange["_tag"]
  readonly table: MirrorTable
  readonly id: string
  /** The columns it sets, `data` left out, times as ISO text. */
  readonly columns: ReadonlyArray<readonly [string, string]>
  /** The row's version (its item's `updated_at`), unix seconds. */
  readonly updatedAt: number | null
  readonly standing: Standing
}

/** What the mirror makes of a notification: its changes, or why it takes none. */
export type MirrorView =
  | { readonly _tag: "changes"; readonly changes: ReadonlyArray<ChangeView> }
  | { readonly _tag: "none"; readonly reason: string }

const iso = (seconds: number | null) => seconds === null ? "" : new Date(seconds * 1000).toISOString()
const text = (value: string | boolean | null) => value === null ? "" : String(value)

const columnsOf = (change: MirrorChange): ReadonlyArray<readonly [string, string]> => {
  switch (change._tag) {
    case "UpsertContact":
    case "DeleteContact": {
      const row = change.row
      return [
        ["role", text(row.role)],
        ["external_id", text(row.externalId)],
        ["email", text(row.email)],
        ["name", text(row.name)],
        ["created_at", iso(row.createdAt)],
        ["notified_at", iso(row.notifiedAt)],
        ...(change._tag === "DeleteContact" ? [["deleted_at", iso(change.deletedAt)] as const] : [])
      ]
    }
    case "UpsertConversation": {
      const row = change.row
      return [
        ["state", text(row.state)],
        ["open", text(row.open)],
        ["admin_assignee_id", text(row.adminAssigneeId)],
        ["team_assignee_id", text(row.teamAssigneeId)],
        ["created_at", iso(row.createdAt)],
        ["notified_at", iso(row.notifiedAt)]
      ]
    }
    case "LinkTag":
      return [["tag_id", change.link.tagId], ["tag_name", text(change.link.tagName)], [
        "tagged_at",
        iso(change.link.taggedAt)
      ]]
  }
}

/** The mirror's rule: a missing version counts as the oldest. */
const standing = (held: HeldVersion | undefined, updatedAt: number | null): Standing => {
  if (held === undefined) return "absent"
  const [mine, theirs] = [updatedAt ?? -1, held.updatedAt ?? -1]
  return theirs === mine ? "current" : theirs > mine ? "superseded" : "older"
}

type Versioned = "intercom_contacts" | "intercom_conversations"

/** The mirror's changes for a logged notification, decoded again from its body, and what the mirror holds now. */
export const mirrorView = (logged: LoggedNotificationWithBody) =>
  Effect.gen(function*() {
    const decoder = yield* Decoder
    const decoded = decoder.decode(verifiedBeforeStoring(logged.body), logged.receivedAt)
    if (Either.isLeft(decoded)) return { _tag: "none", reason: decoded.left.message } satisfies MirrorView
    const notification = decoded.right
    if (notification.decoded === undefined) {
      return {
        _tag: "none",
        reason: `it does not match its schema: ${notification.schemaMismatch ?? "no schema for this topic"}`
      } satisfies MirrorView
    }
    const changes = mirrorChanges(notification.decoded, logged.receivedAt)
    if (Either.isLeft(changes)) return { _tag: "none", reason: changes.left } satisfies MirrorView
    const reconcile = yield* ReconcileStore
    const rowsOf = (table: Versioned) =>
      changes.right.flatMap((change) =>
        change._tag !== "LinkTag" && mirrorTable(change) === table ? [{ id: change.row.id, data: change.row.data }] : []
      )
    const held = (table: Versioned) => {
      const rows = rowsOf(table)
      return rows.length === 0 ? Effect.succeed(new Map<string, HeldVersion>()) : reconcile.versions(table, rows)
    }
    const [contacts, conversations] = yield* Effect.all([held("intercom_contacts"), held("intercom_conversations")])
    return {
      _tag: "changes",
      changes: changes.right.map((change): ChangeView => {
        const table = mirrorTable(change)
        if (change._tag === "LinkTag") {
          return {
            change: change._tag,
            table,
            id: change.link.contactId,
            columns: columnsOf(change),
            updatedAt: null,
            standing: "unversioned"
          }
        }
        const versions = table === "intercom_conversations" ? conversations : contacts
        return {
          change: change._tag,
          table,
          id: change.row.id,
          columns: columnsOf(change),
          updatedAt: change.row.updatedAt,
          standing: standing(versions.get(change.row.id), change.row.updatedAt)
        }
      })
    } satisfies MirrorView
  })

const described: Record<Standing, string> = {
  current: "current",
  superseded: "superseded by a newer state",
  older: "an older state: this one is not applied yet",
  absent: "not in the mirror",
  unversioned: "tag links have no version"
}

const changeRow = (view: ChangeView) =>
  `<tr>${cell(view.change)}${cell(view.table)}${cell(view.id)}<td><dl class="columns">${
    view.columns.map(([name, value]) => `<dt>${escape(name)}</dt><dd>${shortened(value)}</dd>`)
      .join("")
  }</dl></td>${cell(view.updatedAt === null ? "" : `${iso(view.updatedAt)} (${view.updatedAt})`)}${
    cell(described[view.standing], `standing ${view.standing}`)
  }</tr>`

/** The page's mirror section. */
export const renderMirror = (view: MirrorView): string =>
  `<section id="mirror">
<h2>Mirror</h2>
${
    view._tag === "none"
      ? `<p>The mirror takes no change from it: ${escape(view.reason)}</p>`
      : view.changes.length === 0
      ? "<p>It changes nothing in the mirror.</p>"
      : `<table>
<thead><tr><th>change</th><th>table</th><th>row</th><th>sets</th><th>version (updated_at)</th><th>the mirror holds</th></tr></thead>
<tbody>${view.changes.map(changeRow).join("")}</tbody>
</table>`
  }
</section>`
