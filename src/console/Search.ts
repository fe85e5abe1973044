import { Either } from "effect"
import { canonicalTopics } from "../generated/index.js"
import { isoTime } from "../ops/IsoTime.js"
import { canonicalTopic } from "../pipeline/Topics.js"
import type { LoggedNotification, LogSearch } from "../store/NotificationLog.js"

/** One term of `q`; a notification must meet every term. */
export type Condition =
  | { readonly _tag: "topic"; readonly topic: string }
  | { readonly _tag: "id"; readonly id: string }
  | { readonly _tag: "entity"; readonly entity: string }
  /** A bare term: the notification's id, or the contact or conversation it is about. */
  | { readonly _tag: "any"; readonly term: string }

/** Where the next page starts: after this notification (newest first). */
export interface Cursor {
  readonly receivedAt: number
  readonly seq: number
}

export interface Query {
  readonly conditions: ReadonlyArray<Condition>
  readonly since: Date | undefined
  readonly until: Date | undefined
  readonly after: Cursor | undefined
}

/** The search form as written in the query string. */
export interface SearchForm {
  readonly q: string
  readonly since: string
  readonly until: string
  readonly after: string
}

export const formOf = (params: URLSearchParams): SearchForm => ({
  q: (params.get("q") ?? "").trim(),
  since: (params.get("since") ?? "").trim(),
  until: (params.get("until") ?? "").trim(),
  after: (params.get("after") ?? "").trim()
})

export const MAX_TERMS = 8
/** Ids, topics and delivery keys are at most 200 characters: a longer term can match nothing. */
export const MAX_TERM_LENGTH = 200

const PREFIXES = ["topic", "id", "contact", "conversation", "entity"] as const
const prefixList = PREFIXES.map((prefix) => `${prefix}:`).join(", ")

const example: Record<string, string> = {
  topic: "contacts.created",
  id: "notif_123",
  contact: "6a1f0c2e9b3d",
  conversation: "147",
  entity: "ticket:42"
}

const isTopic = (term: string) => canonicalTopics.includes(term as never) || term.includes(".")

const condition = (term: string): Either.Either<Condition, string> => {
  const colon = term.indexOf(":")
  if (colon === -1) {
    if (term.length > MAX_TERM_LENGTH) return Either.left(`a term of q is longer than ${MAX_TERM_LENGTH} characters`)
    return Either.right(
      isTopic(term)
        ? { _tag: "topic", topic: term }
        : { _tag: "any", term }
    )
  }
  const prefix = term.slice(0, colon).toLowerCase()
  const value = term.slice(colon + 1)
  if (!(PREFIXES as ReadonlyArray<string>).includes(prefix)) {
    return Either.left(`"${term.slice(0, 40)}" has no known prefix: use ${prefixList} or a bare id or topic`)
  }
  if (value === "") return Either.left(`${prefix}: needs a value, such as ${prefix}:${example[prefix]}`)
  if (value.length > MAX_TERM_LENGTH) return Either.left(`${prefix}: is longer than ${MAX_TERM_LENGTH} characters`)
  switch (prefix) {
    case "topic":
      return Either.right({ _tag: "topic", topic: value })
    case "id":
      return Either.right({ _tag: "id", id: value })
    case "entity":
      return Either.right({ _tag: "entity", entity: value })
    default:
      return Either.right({ _tag: "entity", entity: `${prefix}:${value}` })
  }
}

/** `q`'s terms, separated by white space. */
export const conditionsOf = (q: string): Either.Either<ReadonlyArray<Condition>, string> => {
  const terms = q.split(/\s+/).filter((term) => term !== "")
  if (terms.length > MAX_TERMS) return Either.left(`q has more than ${MAX_TERMS} terms`)
  return Either.all(terms.map(condition))
}

/** How a condition is written in `q`: `conditionsOf` reads it back as the same condition. */
export const termOf = (condition: Condition): string => {
  switch (condition._tag) {
    case "topic":
      return isTopic(condition.topic) && !condition.topic.includes(":")
        ? condition.topic
        : `topic:${condition.topic}`
    case "id":
      return `id:${condition.id}`
    case "entity":
      return /^(contact|conversation):./.test(condition.entity) ? condition.entity : `entity:${condition.entity}`
    case "any":
      return condition.term
  }
}

const TIME_HINT = "an ISO 8601 date or time with an offset, such as 2026-01-10T00:00:00Z"

/** `<received at, epoch milliseconds>.<seq>`, as the Older link writes it. */
export const cursorText = (cursor: Cursor): string => `${cursor.receivedAt}.${cursor.seq}`

const cursorOf = (text: string): Cursor | undefined => {
  const match = /^(\d{1,16})\.(\d{1,16})$/.exec(text)
  if (match === null) return undefined
  const [receivedAt, seq] = [Number(match[1]), Number(match[2])]
  return Number.isSafeInteger(receivedAt) && Number.isSafeInteger(seq) && receivedAt <= 8.64e15
    ? { receivedAt, seq }
    : undefined
}

/** The form's query, or what to fix. */
export const queryOf = (form: SearchForm): Either.Either<Query, string> =>
  Either.gen(function*() {
    const conditions = yield* conditionsOf(form.q)
    const time = (name: string, text: string) =>
      text === ""
        ? Either.right(undefined)
        : Either.fromOption(isoTime(text), () => `${name} must be ${TIME_HINT}`)
    const since = yield* time("since", form.since)
    const until = yield* time("until", form.until)
    if (since !== undefined && until !== undefined && since > until) {
      return yield* Either.left("since must not be after until")
    }
    const after = form.after === "" ? undefined : cursorOf(form.after)
    if (form.after !== "" && after === undefined) {
      return yield* Either.left("after must be <received at, epoch milliseconds>.<seq>, as the Older link writes it")
    }
    return { conditions, since, until, after }
  })

const anyOf = (condition: Condition): LogSearch["anyOf"] => {
  switch (condition._tag) {
    case "id":
      return { ids: [condition.id], entities: [] }
    case "entity":
      return { ids: [], entities: [condition.entity] }
    case "any":
      return { ids: [condition.term], entities: [`contact:${condition.term}`, `conversation:${condition.term}`] }
    case "topic":
      return undefined
  }
}

/**
 * The store's search for a query (one id or entity term and one topic: what its indexes serve) and the terms left
 * over, which the listing checks itself with `matches`.
 */
export const plan = (query: Query): { readonly search: Omit<LogSearch, "limit">; readonly rest: Array<Condition> } => {
  const byEntity = query.conditions.find((condition) => condition._tag !== "topic")
  const byTopic = query.conditions.find((condition) => condition._tag === "topic")
  return {
    search: {
      anyOf: byEntity === undefined ? undefined : anyOf(byEntity),
      topic: byTopic?.topic,
      since: query.since,
      until: query.until,
      after: query.after
    },
    rest: query.conditions.filter((condition) => condition !== byEntity && condition !== byTopic)
  }
}

/** Whether a notification meets a condition, as the store's search decides it. */
export const matches = (condition: Condition, logged: LoggedNotification): boolean => {
  switch (condition._tag) {
    case "topic": {
      const canonical = canonicalTopic(condition.topic)
      if (canonical === condition.topic) return logged.topic === canonical
      return logged.topic === canonical && logged.intercomTopic === condition.topic
    }
    case "id":
      return logged.notificationId === condition.id
    case "entity":
      return logged.entity === condition.entity
    case "any":
      return logged.notificationId === condition.term ||
        logged.entity === `contact:${condition.term}` ||
        logged.entity === `conversation:${condition.term}`
  }
}
