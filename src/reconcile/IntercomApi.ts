import { Data, Effect, Option, Redacted } from "effect"
import type { IntercomClient } from "intercom-client"
import type { ReconcileSettings, Workspace } from "../config/ReconcileConfig.js"
import { redactText } from "../config/Redact.js"
import { type OnWait, rateLimitedFetch } from "./RateLimitedFetch.js"

/** Intercom's API answered with an error, or could not be reached; `status` when it answered. */
export class IntercomApiError extends Data.TaggedError("IntercomApiError")<{
  readonly message: string
  readonly status?: number
}> {}

/** A page of objects as the API sent them (JSON), and the cursor of the next page (none: the last). */
export interface ApiPage {
  readonly items: ReadonlyArray<unknown>
  readonly next: string | null
}

/** The most a search or a listing returns per page. */
export const PER_PAGE = 150

/** How long one call may take before it counts as failed. */
const CALL_TIMEOUT_SECONDS = 30

/** The calls gap recovery makes, each one HTTP request (never retried here but for the rate limit). */
export interface IntercomApi {
  /** `POST /contacts/search`: contacts with `updated_at > after`, a filter Intercom applies by calendar day. */
  readonly searchContacts: (after: number, cursor: string | null) => Effect.Effect<ApiPage, IntercomApiError>
  /** `POST /conversations/search`: conversations with `updated_at >= from` (to the second). */
  readonly searchConversations: (from: number, cursor: string | null) => Effect.Effect<ApiPage, IntercomApiError>
  /** `GET /contacts`: every contact. */
  readonly listContacts: (cursor: string | null) => Effect.Effect<ApiPage, IntercomApiError>
  /** `GET /contacts/{id}`: the contact, or none when the API answers 404. */
  readonly findContact: (id: string) => Effect.Effect<Option.Option<unknown>, IntercomApiError>
  /** `GET /tags`: every tag's name by id. */
  readonly tagNames: Effect.Effect<ReadonlyMap<string, string>, IntercomApiError>
}

const statusOf = (error: unknown): number | undefined => {
  const status = (error as { readonly statusCode?: unknown }).statusCode
  return typeof status === "number" ? status : undefined
}

/** Why a call failed, in words an operator can act on (never the token). */
const describe = (what: string, error: unknown): IntercomApiError => {
  const status = statusOf(error)
  const hint = status === 401
    ? ": the access token is refused (check INTERCOM_ACCESS_TOKEN and the app's installation)"
    : status === 403
    ? ": the token lacks a permission this needs (read contacts, conversations and tags)"
    : ""
  const cause = (error as { readonly cause?: { readonly code?: unknown; readonly message?: unknown } }).cause
  const detail = typeof cause?.code === "string" ? ` (${cause.code})` : ""
  const message = redactText(`${error instanceof Error ? error.message : String(error)}${detail}`).slice(0, 300)
  return new IntercomApiError({
    message: `${what} failed${status === undefined ? "" : ` with ${status}`}${hint}: ${message}`,
    ...(status === undefined ? {} : { status })
  })
}

const nextCursor = (response: unknown): string | null => {
  const pages = (response as { readonly pages?: { readonly next?: { readonly starting_after?: unknown } } }).pages
  const cursor = pages?.next?.starting_after
  return typeof cursor === "string" && cursor !== "" ? cursor : null
}

/**
 * The official SDK (`intercom-client`, loaded only when gap recovery is on) for one workspace, its `fetch` the one
 * that keeps within the rate limit. Each call takes the fiber's interruption as its abort signal.
 */
export const make = (
  settings: Pick<ReconcileSettings, "apiUrl" | "intercomVersion">,
  workspace: Workspace,
  onWait: OnWait,
  base: typeof fetch = globalThis.fetch
): Effect.Effect<IntercomApi> =>
  Effect.map(Effect.promise(() => import("intercom-client")), ({ IntercomClient: Client }) => {
    const client: IntercomClient = new Client({
      baseUrl: settings.apiUrl.toString().replace(/\/$/, ""),
      token: Redacted.value(workspace.token),
      version: settings.intercomVersion,
      fetch: rateLimitedFetch(base, onWait),
      maxRetries: 0,
      timeoutInSeconds: CALL_TIMEOUT_SECONDS
    })
    const call = <A>(what: string, run: (options: { abortSignal: AbortSignal }) => Promise<A>) =>
      Effect.tryPromise({ try: (signal) => run({ abortSignal: signal }), catch: (error) => describe(what, error) })
    const page = (items: ReadonlyArray<unknown> | undefined, response: unknown): ApiPage => ({
      items: items ?? [],
      next: nextCursor(response)
    })
    const pagination = (cursor: string | null) => ({
      per_page: PER_PAGE,
      ...(cursor === null ? {} : { starting_after: cursor })
    })
    return {
      searchContacts: (after, cursor) =>
        call("searching contacts", (options) =>
          client.contacts.search({
            query: { field: "updated_at", operator: ">", value: after },
            pagination: pagination(cursor)
          }, options)).pipe(Effect.map((found) => page(found.data, found.response))),
      searchConversations: (from, cursor) =>
        call("searching conversations", (options) =>
          client.conversations.search({
            query: { field: "updated_at", operator: ">", value: from },
            pagination: pagination(cursor)
          }, options)).pipe(Effect.map((found) => page(found.data, found.response))),
      listContacts: (cursor) =>
        call(
          "listing contacts",
          (options) =>
            client.contacts.list(
              { per_page: PER_PAGE, ...(cursor === null ? {} : { starting_after: cursor }) },
              options
            )
        )
          .pipe(Effect.map((found) => page(found.data, found.response))),
      findContact: (id) =>
        call(`reading contact ${id}`, (options) => client.contacts.find({ contact_id: id }, options)).pipe(
          Effect.map(Option.some<unknown>),
          Effect.catchIf((error) => error.status === 404, () => Effect.succeed(Option.none()))
        ),
      tagNames: call("listing tags", (options) => client.tags.list(options)).pipe(
        Effect.map((tags) =>
          new Map(
            (tags.data ?? []).flatMap((tag) =>
              typeof tag.id === "string" && typeof tag.name === "string" ? [[tag.id, tag.name] as const] : []
            )
          )
        )
      )
    }
  })
