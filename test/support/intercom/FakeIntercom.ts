import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import {
  type AppliedTag,
  type ContactState,
  type ConversationState,
  type ConversationStatus,
  type Json,
  renderContact,
  renderConversation,
  renderError,
  renderTag,
  type TagState
} from "./Objects.js"
import { type RateLimit, RateLimiter } from "./RateLimiter.js"
import { paginate, parsePaging, parseQuery, SearchError, type SearchSettings } from "./Search.js"

/**
 * A stateful stand-in for Intercom's REST API on 127.0.0.1: contacts, conversations and tags that a test changes over
 * time on the fake's own clock (`advance`), the search endpoints with their filters and cursors, bearer-token auth and
 * a rate limit. Shapes follow the pinned OpenAPI description; run it behind `startPrism` to have every answer checked.
 */

export interface FakeIntercomOptions {
  readonly token?: string
  /** Unix seconds of the fake's clock at start. */
  readonly startAt?: number
  readonly utcOffsetSeconds?: number
  readonly rateLimit?: RateLimit
  /** The clock follows the wall clock (never going back): for a service that picks its windows by the real time. */
  readonly wallClock?: boolean
}

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly status: number
  readonly intercomVersion: string | undefined
  readonly body: unknown
  /** Wall-clock milliseconds when it was answered. */
  readonly at: number
  /** The X-RateLimit-* headers of the answer (none on a 401). */
  readonly rateLimit: Readonly<Record<string, string>>
}

/** Rewrites an answer before it is sent: the switch for deliberately wrong responses. */
export type Tamper = (request: { readonly method: string; readonly path: string }, status: number, body: Json) => Json

/** Intercom's documented default: 10,000 calls a minute per app, enforced in 10-second windows. */
export const DEFAULT_RATE_LIMIT: RateLimit = { limit: 1666, windowSeconds: 10 }

const CONTACT_DATE_FIELDS = new Set([
  "created_at",
  "updated_at",
  "signed_up_at",
  "last_seen_at",
  "last_contacted_at",
  "last_replied_at",
  "last_email_opened_at",
  "last_email_clicked_at"
])

const CONVERSATION_DATE_FIELDS = new Set(["created_at", "updated_at", "waiting_since", "snoozed_until"])

interface Answer {
  readonly status: number
  readonly body: Json
}

const ok = (body: Json): Answer => ({ status: 200, body })
const fail = (status: number, code: string, message: string): Answer => ({
  status,
  body: renderError(code, message)
})

const readBody = (request: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    request.on("error", reject)
  })

export class FakeIntercom {
  readonly token: string
  readonly requests: Array<RecordedRequest> = []
  private clock: number
  private readonly wallClock: boolean
  private sequence = 0
  private tamper: Tamper | undefined
  private delayMs = 0
  private readonly limiter: RateLimiter
  private readonly contactsById = new Map<string, ContactState>()
  private readonly conversationsById = new Map<string, ConversationState>()
  private readonly tagsById = new Map<string, TagState>()
  private readonly contactSearch: SearchSettings
  private readonly conversationSearch: SearchSettings

  private constructor(private readonly server: Server, options: FakeIntercomOptions) {
    this.token = options.token ?? "fake-intercom-token"
    this.wallClock = options.wallClock === true
    this.clock = options.startAt ?? (this.wallClock ? Math.floor(Date.now() / 1000) : Date.UTC(2026, 0, 5, 9) / 1000)
    this.limiter = new RateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT)
    const utcOffsetSeconds = options.utcOffsetSeconds ?? 0
    this.contactSearch = {
      dates: "calendar-day",
      dateFields: CONTACT_DATE_FIELDS,
      utcOffsetSeconds,
      defaultPerPage: 50,
      maxPerPage: 150
    }
    this.conversationSearch = {
      dates: "inclusive-seconds",
      dateFields: CONVERSATION_DATE_FIELDS,
      utcOffsetSeconds,
      defaultPerPage: 20,
      maxPerPage: 150
    }
  }

  static async start(options: FakeIntercomOptions = {}): Promise<FakeIntercom> {
    const server = createServer()
    const fake = new FakeIntercom(server, options)
    server.on("request", (request, response) => void fake.handle(request, response))
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => resolve())
    })
    return fake
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  close(): Promise<void> {
    this.server.closeAllConnections()
    return new Promise((resolve, reject) => this.server.close((error) => error ? reject(error) : resolve()))
  }

  // --- the clock and the switches a test turns

  get now(): number {
    return this.time()
  }

  private time(): number {
    if (this.wallClock) this.clock = Math.max(this.clock, Math.floor(Date.now() / 1000))
    return this.clock
  }

  advance(seconds: number): number {
    this.clock += seconds
    return this.clock
  }

  setRateLimit(limit: RateLimit): void {
    this.limiter.configure(limit)
  }

  /** Every answer waits this long: a slow API, for a sweep to be caught half-way. */
  setDelay(ms: number): void {
    this.delayMs = ms
  }

  setTamper(tamper: Tamper | undefined): void {
    this.tamper = tamper
  }

  // --- changing the data, as Intercom's users and admins would

  createTag(name: string): TagState {
    const existing = [...this.tagsById.values()].find((tag) => tag.name === name)
    if (existing !== undefined) return existing
    const tag = { id: String(1000 + this.nextSequence()), name }
    this.tagsById.set(tag.id, tag)
    return tag
  }

  createContact(init: { email?: string; name?: string; role?: "user" | "lead"; externalId?: string } = {}): string {
    const sequence = this.nextSequence()
    const id = this.time().toString(16).padStart(8, "0") + sequence.toString(16).padStart(16, "0")
    this.contactsById.set(id, {
      id,
      createdAt: this.time(),
      updatedAt: this.time(),
      role: init.role ?? "user",
      externalId: init.externalId ?? null,
      email: init.email ?? `contact${sequence}@example.com`,
      name: init.name ?? `Contact ${sequence}`,
      ownerId: null,
      tags: [],
      deleted: false
    })
    return id
  }

  updateContact(id: string, patch: { email?: string; name?: string | null; role?: "user" | "lead" }): void {
    const contact = this.liveContact(id)
    if (patch.email !== undefined) contact.email = patch.email
    if (patch.name !== undefined) contact.name = patch.name
    if (patch.role !== undefined) contact.role = patch.role
    contact.updatedAt = this.time()
  }

  tagContact(id: string, tagName: string, adminId = 1): void {
    const contact = this.liveContact(id)
    contact.tags = this.applyTag(contact.tags, tagName, adminId)
    contact.updatedAt = this.time()
  }

  untagContact(id: string, tagName: string): void {
    const contact = this.liveContact(id)
    contact.tags = contact.tags.filter((tag) => this.tagsById.get(tag.tagId)?.name !== tagName)
    contact.updatedAt = this.time()
  }

  deleteContact(id: string): void {
    this.liveContact(id).deleted = true
  }

  /** Undoes `deleteContact`, as a benchmark's next round needs (Intercom has no such thing). */
  restoreContact(id: string): void {
    const contact = this.contactsById.get(id)
    if (contact !== undefined) contact.deleted = false
  }

  createConversation(init: { contactId: string; body?: string; title?: string }): string {
    this.liveContact(init.contactId)
    const sequence = this.nextSequence()
    const id = String(500 + sequence)
    this.conversationsById.set(id, {
      id,
      createdAt: this.time(),
      updatedAt: this.time(),
      contactIds: [init.contactId],
      sourceId: String(400_000_000 + sequence),
      body: init.body ?? `<p>Message ${sequence}</p>`,
      title: init.title ?? null,
      state: "open",
      snoozedUntil: null,
      adminAssigneeId: null,
      teamAssigneeId: null,
      read: false,
      tags: []
    })
    return id
  }

  assignConversation(id: string, adminId: number | null, teamId: number | null = null): void {
    const conversation = this.conversation(id)
    conversation.adminAssigneeId = adminId
    conversation.teamAssigneeId = teamId
    conversation.updatedAt = this.time()
  }

  setConversationState(id: string, state: ConversationStatus, snoozedUntil: number | null = null): void {
    const conversation = this.conversation(id)
    conversation.state = state
    conversation.snoozedUntil = state === "snoozed" ? snoozedUntil ?? this.time() + 3600 : null
    conversation.updatedAt = this.time()
  }

  closeConversation(id: string): void {
    this.setConversationState(id, "closed")
  }

  tagConversation(id: string, tagName: string, adminId = 1): void {
    const conversation = this.conversation(id)
    conversation.tags = this.applyTag(conversation.tags, tagName, adminId)
    conversation.updatedAt = this.time()
  }

  // --- what the fake holds, rendered as the API renders it

  contact(id: string): Json | undefined {
    const contact = this.contactsById.get(id)
    return contact === undefined || contact.deleted ? undefined : renderContact(contact)
  }

  contacts(): ReadonlyArray<Json> {
    return this.liveContacts().map(renderContact)
  }

  conversations(): ReadonlyArray<Json> {
    return [...this.conversationsById.values()].map((conversation) =>
      renderConversation(conversation, this.contactsById, this.tagsById, false)
    )
  }

  isDeleted(id: string): boolean {
    return this.contactsById.get(id)?.deleted === true
  }

  // --- HTTP

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? "GET"
    const url = new URL(request.url ?? "/", "http://fake")
    const path = url.pathname
    const text = await readBody(request)
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs))
    let body: unknown = undefined
    let answer: Answer
    const headers: Record<string, string> = { "Content-Type": "application/json; charset=utf-8" }
    let rateLimit: Readonly<Record<string, string>> = {}
    if (request.headers.authorization !== `Bearer ${this.token}`) {
      answer = fail(401, "unauthorized", "Access Token Invalid")
    } else {
      const limit = this.limiter.take()
      rateLimit = limit.headers
      Object.assign(headers, limit.headers)
      if (!limit.allowed) {
        answer = fail(429, "rate_limit_exceeded", "Exceeded rate limit")
      } else {
        try {
          body = text === "" ? undefined : JSON.parse(text)
          answer = this.route(method, path, body, url.searchParams)
        } catch (error) {
          answer = error instanceof SearchError || error instanceof SyntaxError
            ? fail(400, "parameter_invalid", error.message)
            : fail(500, "server_error", String(error))
        }
      }
    }
    const sent = this.tamper === undefined ? answer.body : this.tamper({ method, path }, answer.status, answer.body)
    const version = request.headers["intercom-version"]
    this.requests.push({
      method,
      path,
      status: answer.status,
      intercomVersion: Array.isArray(version) ? version[0] : version,
      body,
      at: Date.now(),
      rateLimit
    })
    response.writeHead(answer.status, headers).end(JSON.stringify(sent))
  }

  private route(method: string, path: string, body: unknown, params: URLSearchParams): Answer {
    const [, resource, id, extra] = path.split("/")
    if (extra !== undefined) return fail(404, "route_not_found", `no route for ${method} ${path}`)
    if (method === "POST" && id === "search" && resource === "contacts") return this.searchContacts(body)
    if (method === "POST" && id === "search" && resource === "conversations") return this.searchConversations(body)
    if (method === "GET" && resource === "contacts" && id === undefined) return this.listContacts(params)
    if (method === "GET" && resource === "contacts" && id !== undefined) {
      const contact = this.contact(decodeURIComponent(id))
      return contact === undefined ? fail(404, "not_found", "User Not Found") : ok(contact)
    }
    if (method === "GET" && resource === "conversations" && id !== undefined) {
      const conversation = this.conversationsById.get(decodeURIComponent(id))
      return conversation === undefined
        ? fail(404, "not_found", "Resource Not Found")
        : ok(renderConversation(conversation, this.contactsById, this.tagsById, true))
    }
    if (method === "GET" && resource === "tags" && id === undefined) {
      return ok({ type: "list", data: [...this.tagsById.values()].map(renderTag) })
    }
    return fail(404, "route_not_found", `no route for ${method} ${path}`)
  }

  private searchContacts(body: unknown): Answer {
    const { query, pagination } = this.searchBody(body)
    const matches = parseQuery(query, this.contactSearch)
    const paging = parsePaging(pagination, this.contactSearch)
    const rows = this.liveContacts().map((state) => ({ ...state, json: renderContact(state) }))
    const page = paginate(rows.filter((row) => matches(row.json)), paging)
    return ok({
      type: "list",
      data: page.items.map((row) => row.json),
      total_count: page.totalCount,
      pages: page.pages
    })
  }

  /** `GET /contacts?per_page=&starting_after=`: every live contact, by the same cursors as a search. */
  private listContacts(params: URLSearchParams): Answer {
    const perPage = params.get("per_page")
    const paging = parsePaging({
      per_page: perPage === null ? undefined : Number(perPage),
      starting_after: params.get("starting_after") ?? undefined
    }, this.contactSearch)
    const page = paginate(this.liveContacts(), paging)
    return ok({
      type: "list",
      data: page.items.map(renderContact),
      total_count: page.totalCount,
      pages: page.pages
    })
  }

  private searchConversations(body: unknown): Answer {
    const { query, pagination } = this.searchBody(body)
    const matches = parseQuery(query, this.conversationSearch)
    const paging = parsePaging(pagination, this.conversationSearch)
    const rows = [...this.conversationsById.values()].map((state) => ({
      ...state,
      json: renderConversation(state, this.contactsById, this.tagsById, false)
    }))
    const page = paginate(rows.filter((row) => matches(row.json)), paging)
    return ok({
      type: "conversation.list",
      conversations: page.items.map((row) => row.json),
      total_count: page.totalCount,
      pages: page.pages
    })
  }

  private searchBody(body: unknown): { query: unknown; pagination: unknown } {
    if (typeof body !== "object" || body === null || !("query" in body)) {
      throw new SearchError("a search needs a query")
    }
    return { query: body.query, pagination: "pagination" in body ? body.pagination : undefined }
  }

  private nextSequence(): number {
    this.sequence += 1
    return this.sequence
  }

  private liveContacts(): Array<ContactState> {
    return [...this.contactsById.values()].filter((contact) => !contact.deleted)
  }

  private liveContact(id: string): ContactState {
    const contact = this.contactsById.get(id)
    if (contact === undefined || contact.deleted) throw new Error(`no live contact ${id} in the fake`)
    return contact
  }

  private conversation(id: string): ConversationState {
    const conversation = this.conversationsById.get(id)
    if (conversation === undefined) throw new Error(`no conversation ${id} in the fake`)
    return conversation
  }

  private applyTag(tags: ReadonlyArray<AppliedTag>, tagName: string, adminId: number): Array<AppliedTag> {
    const tag = this.createTag(tagName)
    return [
      ...tags.filter((applied) => applied.tagId !== tag.id),
      { tagId: tag.id, appliedAt: this.time(), appliedBy: adminId }
    ]
  }
}
