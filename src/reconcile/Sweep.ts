import { Effect, Either, Option } from "effect"
import { goneContactChange, restContactChanges, restConversationChanges } from "../mirror/RestRows.js"
import type { MirrorChange } from "../mirror/Rows.js"
import { type MirrorOutcome, type MirrorTable, mirrorTable } from "../store/Mirror.js"
import type { StoreUnavailable } from "../store/Outbox.js"
import type { ReconcileStore, SweepPhase, SweepProgress } from "../store/Reconcile.js"
import type { IntercomApiError } from "./IntercomApi.js"
import { type ApiPage, type IntercomApi } from "./IntercomApi.js"

const DAY = 86_400

/** What a sweep did, as `npm run reconcile` prints it and the metrics count it. */
export interface SweepTally {
  readonly pages: Record<"contacts" | "conversations" | "listing", number>
  /** Objects read, by the table they go to. */
  readonly read: Record<"contacts" | "conversations", number>
  /** Rows changed (`applied`) or left as they were, a newer state being there already (`unchanged`), by table. */
  readonly rows: Record<MirrorTable, { applied: number; unchanged: number }>
  /** Objects the mirror cannot take (an id it refuses, values the store refuses), each logged. */
  refused: number
  /** Contacts found gone (404) and marked deleted. */
  deleted: number
  /** Contacts the listing did not show and that were looked up one by one. */
  checked: number
}

export const emptyTally = (): SweepTally => ({
  pages: { contacts: 0, conversations: 0, listing: 0 },
  read: { contacts: 0, conversations: 0 },
  rows: {
    intercom_contacts: { applied: 0, unchanged: 0 },
    intercom_conversations: { applied: 0, unchanged: 0 },
    intercom_contact_tags: { applied: 0, unchanged: 0 }
  },
  refused: 0,
  deleted: 0,
  checked: 0
})

/** What a sweep reports as it goes, for the metrics. */
export interface SweepEvents {
  readonly page: (resource: keyof SweepTally["pages"]) => void
  readonly rows: (outcomes: ReadonlyArray<MirrorOutcome>) => void
}

export interface SweepDeps {
  readonly api: IntercomApi
  readonly store: ReconcileStore["Type"]
  readonly workspace: string
  /** Records progress in the store after every page (the service); the command line's sweeps record nothing. */
  readonly persist: boolean
  readonly concurrency: number
  readonly events?: SweepEvents
}

/** An object's changes, its state being the one at `fetchedAt` (unix seconds). */
type ToChanges = (item: unknown, fetchedAt: number) => Either.Either<ReadonlyArray<MirrorChange>, string>

const nowSeconds = () => Math.floor(Date.now() / 1000)

const idOf = (item: unknown): string => String((item as { readonly id?: unknown } | null)?.id ?? "?")

/**
 * Reconciles one window from where `start` says, phase by phase: contacts updated in it (Intercom filters contacts by
 * calendar day, so the search starts a day early and the version rule leaves the older ones alone), conversations
 * updated in it, then, when the window asks, the contacts that are gone. Each page is applied before its cursor is
 * recorded: a sweep stopped anywhere resumes at the last page it recorded, and applies at most that page again.
 */
export const sweep = (deps: SweepDeps, start: SweepProgress, tally: SweepTally = emptyTally()) =>
  Effect.gen(function*() {
    const { api, store, workspace } = deps
    const window = start.window
    const phases: ReadonlyArray<SweepPhase> = window.deletions
      ? ["contacts", "conversations", "deletions"]
      : ["contacts", "conversations"]
    const record = (phase: SweepPhase, cursor: string | null) =>
      deps.persist ? store.advance(workspace, phase, cursor) : Effect.void

    /**
     * Applies each object's changes. An object the mirror's row holds already (the same `updated_at` and item), or
     * older than the row, is left alone and counted unchanged: a sweep reads a day of contacts, and rewriting each on
     * every sweep would cost writes and say "changed" of what did not.
     */
    const apply = (items: ReadonlyArray<unknown>, toChanges: ToChanges, fetchedAt: number) =>
      Effect.gen(function*() {
        const valid: Array<ReadonlyArray<MirrorChange>> = []
        for (const item of items) {
          const changes = toChanges(item, fetchedAt)
          if (Either.isRight(changes)) {
            valid.push(changes.right)
          } else {
            tally.refused += 1
            yield* Effect.logWarning("the mirror cannot take an object read from Intercom").pipe(
              Effect.annotateLogs({ workspace, id: idOf(item), reason: changes.left })
            )
          }
        }
        const rowOf = (changes: ReadonlyArray<MirrorChange>) => {
          const first = changes[0]
          return first !== undefined && first._tag !== "LinkTag" ? first : undefined
        }
        const fresh: Array<ReadonlyArray<MirrorChange>> = []
        for (const table of ["intercom_contacts", "intercom_conversations"] as const) {
          const ofTable = valid.filter((changes) => {
            const first = rowOf(changes)
            return first !== undefined && mirrorTable(first) === table
          })
          if (ofTable.length === 0) continue
          const held = yield* store.versions(table, ofTable.map((changes) => rowOf(changes)!.row))
          for (const changes of ofTable) {
            const { row } = rowOf(changes)!
            const version = held.get(row.id)
            const current = version?.updatedAt ?? null
            if (
              current !== null && row.updatedAt !== null &&
              (current > row.updatedAt || (current === row.updatedAt && version!.sameData))
            ) {
              tally.rows[table].unchanged += 1
            } else {
              fresh.push(changes)
            }
          }
        }
        const outcomes = yield* store.applyItems(fresh)
        for (const [index, outcome] of outcomes.entries()) {
          if (Either.isLeft(outcome)) {
            tally.refused += 1
            yield* Effect.logWarning("the store refuses an object read from Intercom").pipe(
              Effect.annotateLogs({ workspace, id: rowOf(fresh[index]!)?.row.id, reason: outcome.left })
            )
            continue
          }
          for (const { applied, table } of outcome.right) tally.rows[table][applied ? "applied" : "unchanged"] += 1
          deps.events?.rows(outcome.right)
        }
      })

    /** Reads pages from `cursor` on; a cursor the API no longer takes (400) starts the phase again from its start. */
    const pages = (
      phase: "contacts" | "conversations",
      read: (cursor: string | null) => Effect.Effect<ApiPage, IntercomApiError>,
      toChanges: ToChanges,
      first: string | null
    ) =>
      Effect.gen(function*() {
        let cursor = first
        while (true) {
          // The state a page holds is the one when the request was sent, not when it was answered.
          const fetchedAt = nowSeconds()
          const page = yield* read(cursor).pipe(
            Effect.catchIf(
              (error) => error.status === 400 && cursor !== null,
              () =>
                Effect.logWarning("Intercom no longer takes the recorded cursor; the phase starts again").pipe(
                  Effect.annotateLogs({ workspace, phase }),
                  Effect.zipRight(read(null))
                )
            )
          )
          tally.pages[phase] += 1
          tally.read[phase] += page.items.length
          deps.events?.page(phase)
          yield* apply(page.items, toChanges, fetchedAt)
          cursor = page.next
          if (cursor === null) return
          yield* record(phase, cursor)
        }
      })

    const deletions = Effect.gen(function*() {
      const listed = new Set<string>()
      let workspaceId: string | undefined
      let cursor: string | null = null
      do {
        const page: ApiPage = yield* api.listContacts(cursor)
        tally.pages.listing += 1
        deps.events?.page("listing")
        for (const item of page.items) {
          listed.add(idOf(item))
          const id = (item as { readonly workspace_id?: unknown }).workspace_id
          if (typeof id === "string") workspaceId = id
        }
        cursor = page.next
      } while (cursor !== null)
      if (workspaceId === undefined) {
        return yield* Effect.logInfo("no contact listed: which mirrored contacts belong to this workspace is unknown")
          .pipe(Effect.annotateLogs({ workspace }))
      }
      const missing = (yield* store.liveContactIds(workspaceId)).filter((id) => !listed.has(id))
      tally.checked += missing.length
      const found = yield* Effect.forEach(
        missing,
        (id) =>
          Effect.suspend(() => {
            const fetchedAt = nowSeconds()
            return Effect.map(api.findContact(id), (contact) => ({ id, contact, fetchedAt }))
          }),
        { concurrency: deps.concurrency }
      )
      const gone = found.filter(({ contact }) => Option.isNone(contact))
      for (const { contact, fetchedAt } of found) {
        if (Option.isSome(contact)) {
          yield* apply([contact.value], (item, at) => restContactChanges(item, new Map(), at), fetchedAt)
        }
      }
      const owner = workspaceId
      const outcomes = yield* store.applyItems(
        gone.map(({ fetchedAt, id }) => [goneContactChange(id, owner, fetchedAt)])
      )
      for (const outcome of outcomes) {
        if (Either.isRight(outcome) && outcome.right.some((done) => done.applied)) tally.deleted += 1
        if (Either.isRight(outcome)) deps.events?.rows(outcome.right)
      }
    })

    let first = start.cursor
    let names: ReadonlyMap<string, string> | undefined
    for (const phase of phases.slice(phases.indexOf(start.phase))) {
      if (phase !== start.phase) yield* record(phase, null)
      if (phase === "contacts") {
        names ??= yield* api.tagNames
        const tagNames = names
        yield* pages(
          "contacts",
          (cursor) => api.searchContacts(Math.max(0, window.since - DAY), cursor),
          (item, fetchedAt) => restContactChanges(item, tagNames, fetchedAt),
          first
        )
      } else if (phase === "conversations") {
        yield* pages(
          "conversations",
          (cursor) => api.searchConversations(window.since, cursor),
          restConversationChanges,
          first
        )
      } else {
        yield* deletions
      }
      first = null
    }
    return tally
  }) satisfies Effect.Effect<SweepTally, IntercomApiError | StoreUnavailable>
