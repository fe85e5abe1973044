import { assert, describe, it } from "@effect/vitest"
import { type Intercom, IntercomClient, IntercomError } from "intercom-client"
import { afterAll, afterEach, beforeAll } from "vitest"
import { DEFAULT_RATE_LIMIT, FakeIntercom } from "./support/intercom/FakeIntercom.js"
import type { Json } from "./support/intercom/Objects.js"
import { type Exchange, type Prism, startPrism, VIOLATIONS_TYPE } from "./support/intercom/Prism.js"
import { writeRelaxedSpec } from "./support/intercom/Spec.js"

const DAY = 86_400

let fake: FakeIntercom
let prism: Prism
let spec: ReturnType<typeof writeRelaxedSpec>

const client = (options: IntercomClient.Options = {}) =>
  new IntercomClient({ baseUrl: prism.url, token: fake.token, fetch: prism.fetch, ...options })

const collect = async <T>(page: AsyncIterable<T>): Promise<Array<T>> => {
  const items: Array<T> = []
  for await (const item of page) items.push(item)
  return items
}

/** The exchanges through Prism made while `run` ran. */
const through = async <A>(run: () => Promise<A>): Promise<{ result: A; exchanges: ReadonlyArray<Exchange> }> => {
  const from = prism.exchanges.length
  const result = await run()
  return { result, exchanges: prism.exchanges.slice(from) }
}

const failure = async (run: () => Promise<unknown>, what = "the call"): Promise<IntercomError> => {
  try {
    await run()
  } catch (error) {
    if (error instanceof IntercomError) return error
    throw error
  }
  assert.fail(`expected ${what} to fail`)
}

const assertClean = (exchanges: ReadonlyArray<Exchange>) =>
  assert.deepStrictEqual(
    exchanges.filter((exchange) => exchange.violations.length > 0),
    [],
    prism.output().slice(-2000)
  )

const updatedBetween = (from: number, until: number) => ({
  operator: "AND" as const,
  value: [
    { field: "updated_at", operator: ">" as const, value: from },
    { field: "updated_at", operator: "<" as const, value: until }
  ]
})

const ids = (items: ReadonlyArray<{ readonly id?: string | undefined }>) => items.map((item) => item.id ?? "")

const sorted = (values: ReadonlyArray<string>) => [...values].sort()

beforeAll(async () => {
  fake = await FakeIntercom.start({ startAt: Date.UTC(2026, 0, 5, 9) / 1000 })
  spec = writeRelaxedSpec()
  prism = await startPrism({ upstream: fake.url, spec: spec.path })
})

afterAll(async () => {
  await prism?.close()
  await fake?.close()
  spec?.remove()
})

afterEach(() => {
  fake.setTamper(undefined)
  fake.setRateLimit(DEFAULT_RATE_LIMIT)
})

describe("the fake Intercom API, validated by Prism against Intercom's OpenAPI description 2.14", () => {
  it("lists the contacts updated in a window of days, across pages, each exactly once", async () => {
    const dayBefore = fake.now
    const untouched = Array.from({ length: 4 }, () => fake.createContact())
    fake.advance(DAY)
    const windowDay = fake.now
    const created = Array.from({ length: 6 }, (_, i) => {
      fake.advance(600)
      return fake.createContact({ role: i % 2 === 0 ? "user" : "lead", externalId: `ext-${i}` })
    })
    fake.advance(600)
    fake.updateContact(untouched[0]!, { name: "Renamed" })
    fake.tagContact(untouched[1]!, "vip")
    fake.deleteContact(created[5]!)
    fake.advance(DAY)
    const dayAfter = fake.now
    fake.createContact()
    fake.tagContact(untouched[2]!, "vip")

    const expected = fake.contacts()
      .filter((contact) => (contact.updated_at as number) >= windowDay && (contact.updated_at as number) < dayAfter)
      .map((contact) => contact.id as string)
    assert.strictEqual(expected.length, 7)

    const { exchanges, result } = await through(() =>
      client().contacts.search({ query: updatedBetween(dayBefore, dayAfter), pagination: { per_page: 2 } })
        .then(collect)
    )
    assert.deepStrictEqual(sorted(ids(result)), sorted(expected))
    assert.strictEqual(new Set(ids(result)).size, result.length)
    assert.strictEqual(exchanges.length, 4)
    assertClean(exchanges)
    assert.strictEqual(fake.requests.at(-1)?.intercomVersion, "2.14")

    const tags = await through(() => client().tags.list())
    assert.includeMembers((tags.result.data ?? []).map((tag) => tag.name), ["vip"])
    assertClean(tags.exchanges)

    const tagged = result.find((contact) => contact.id === untouched[1])
    assert.deepStrictEqual(tagged?.tags?.data?.map((tag) => tag.id), [fake.createTag("vip").id])
  })

  it("matches contact dates by calendar day, as the description documents", async () => {
    fake.advance(10 * DAY)
    const midnight = Math.floor(fake.now / DAY) * DAY
    fake.advance(midnight + 8 * 3600 - fake.now)
    const morning = fake.createContact()
    fake.advance(12 * 3600)
    const evening = fake.createContact()
    fake.advance(13 * 3600)
    const nextDay = fake.createContact()
    const noon = midnight + 12 * 3600
    const search = (operator: "=" | ">" | "<" | "!=", value: number) =>
      client({ maxRetries: 0 }).contacts.search({ query: { field: "updated_at", operator, value } }).then(collect)

    assert.deepStrictEqual(ids(await search(">", noon)), [nextDay], "'>' starts at the next midnight")
    assert.deepStrictEqual(sorted(ids(await search("=", noon))), sorted([morning, evening]), "'=' is the whole day")
    const before = ids(await search("<", fake.now))
    assert.includeMembers(before, [morning, evening])
    assert.notInclude(before, nextDay, "'<' ends at the start of that day")
    const error = await failure(() => search("!=", noon))
    assert.strictEqual(error.statusCode, 400)
  })

  it("lists the conversations updated in a window of seconds, across pages, each exactly once", async () => {
    const author = fake.createContact()
    fake.advance(DAY)
    const before = Array.from({ length: 3 }, () => fake.createConversation({ contactId: author }))
    fake.advance(60)
    const from = fake.now
    const inWindow = Array.from({ length: 5 }, () => {
      fake.advance(10)
      return fake.createConversation({ contactId: author })
    })
    fake.advance(10)
    fake.assignConversation(before[0]!, 7, 3)
    fake.closeConversation(inWindow[1]!)
    fake.tagConversation(before[1]!, "billing")
    fake.setConversationState(inWindow[2]!, "snoozed")
    const until = fake.now
    fake.advance(60)
    fake.createConversation({ contactId: author })
    fake.closeConversation(before[2]!)

    const expected = fake.conversations()
      .filter((conversation) =>
        (conversation.updated_at as number) >= from && (conversation.updated_at as number) <= until
      )
      .map((conversation) => conversation.id as string)
    assert.deepStrictEqual(sorted(expected), sorted([...inWindow, before[0]!, before[1]!]))

    const { exchanges, result } = await through(() =>
      client().conversations.search({ query: updatedBetween(from, until), pagination: { per_page: 2 } }).then(collect)
    )
    assert.deepStrictEqual(sorted(ids(result)), sorted(expected))
    assert.strictEqual(new Set(ids(result)).size, result.length)
    assert.strictEqual(exchanges.length, 4)
    assertClean(exchanges)
    const closed = result.find((conversation) => conversation.id === inWindow[1])
    assert.deepStrictEqual([closed?.state, closed?.open], ["closed", false])
    const assigned = result.find((conversation) => conversation.id === before[0])
    assert.strictEqual(assigned?.admin_assignee_id, 7)
  })

  it("answers 404 for a deleted contact and an unknown conversation", async () => {
    const contact = fake.createContact()
    const conversation = fake.createConversation({ contactId: contact })
    const found = await through(() => client().contacts.find({ contact_id: contact }))
    assert.strictEqual(found.result.id, contact)
    assertClean(found.exchanges)
    const got = await through(() => client().conversations.find({ conversation_id: conversation }))
    assert.strictEqual(got.result.conversation_parts?.total_count, 0)
    assertClean(got.exchanges)

    fake.deleteContact(contact)
    const gone = await through(() => failure(() => client().contacts.find({ contact_id: contact })))
    assert.strictEqual(gone.result.statusCode, 404)
    assert.strictEqual(gone.result.constructor.name, "IntercomError", "contacts.find maps only 401 to a class")
    // 2.14 declares only 200 and 401 for GET /contacts/{id}: Prism passes the 404 on with a warning.
    assert.deepStrictEqual(gone.exchanges.flatMap((exchange) => exchange.violations.map((v) => v.severity)), [
      "Warning"
    ])

    const unknown = await through(() => failure(() => client().conversations.find({ conversation_id: "999999" })))
    assert.strictEqual(unknown.result.constructor.name, "NotFoundError")
    assertClean(unknown.exchanges)
  })

  it("refuses a request without a valid bearer token", async () => {
    const before = fake.requests.length
    const bare = await fetch(`${prism.url}/contacts/search`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: { field: "role", operator: "=", value: "user" } })
    })
    assert.strictEqual(bare.status, 401)
    assert.strictEqual(fake.requests.length, before, "Prism answers a missing token itself")

    const wrong = await through(() =>
      failure(() =>
        client({ token: "not-the-token" }).contacts.search({ query: { field: "role", operator: "=", value: "user" } })
      )
    )
    assert.strictEqual(wrong.result.constructor.name, "UnauthorizedError")
    assert.strictEqual(wrong.result.statusCode, 401)
    assert.deepStrictEqual((wrong.result.body as Intercom.Error_).errors.map((error) => error.code), ["unauthorized"])
    assert.strictEqual(fake.requests.at(-1)?.status, 401)
    assertClean(wrong.exchanges)
  })

  it("rate-limits: a 429 is an IntercomError with the headers, and the SDK waits for X-RateLimit-Reset", async () => {
    fake.setRateLimit({ limit: 2, windowSeconds: 3600 })
    const sdk = client({ maxRetries: 0 })
    const query = { query: { field: "role", operator: "=" as const, value: "user" } }
    await sdk.contacts.search(query)
    const second = await sdk.contacts.search(query)
    assert.strictEqual(second.rawResponse.headers.get("x-ratelimit-remaining"), "0")
    const limited = await through(() => failure(() => sdk.contacts.search(query)))
    assert.strictEqual(limited.result.statusCode, 429)
    assert.strictEqual(limited.result.rawResponse?.headers.get("x-ratelimit-limit"), "2")
    assert.strictEqual(limited.result.rawResponse?.headers.get("x-ratelimit-remaining"), "0")
    assert.match(limited.result.rawResponse?.headers.get("x-ratelimit-reset") ?? "", /^\d+$/)
    assert.deepStrictEqual((limited.result.body as Intercom.Error_).errors.map((error) => error.code), [
      "rate_limit_exceeded"
    ])
    assert.deepStrictEqual(limited.exchanges.flatMap((exchange) => exchange.violations.map((v) => v.severity)), [
      "Warning"
    ])

    fake.setRateLimit({ limit: 1, windowSeconds: 1 })
    const from = fake.requests.length
    const started = Date.now()
    for (let i = 0; i < 3; i++) await client().contacts.search(query)
    const answers = fake.requests.slice(from)
    assert.strictEqual(answers.filter((answer) => answer.status === 200).length, 3)
    const waits = answers.flatMap((answer, i) => answer.status === 429 ? [[answer, answers[i + 1]!] as const] : [])
    assert.isAtLeast(waits.length, 1)
    for (const [limited, retry] of waits) {
      assert.isAtLeast(retry.at, Number(limited.rateLimit["X-RateLimit-Reset"]) * 1000, "retried after the reset")
    }
    assert.isAtLeast(Date.now() - started, 1000)
  })

  it("Prism flags an answer that breaks the contract, on every endpoint the fake implements", async () => {
    const contact = fake.createContact()
    const conversation = fake.createConversation({ contactId: contact })
    fake.tagContact(contact, "flagged")
    const sdk = client({ maxRetries: 0 })
    const cases: ReadonlyArray<{
      readonly path: RegExp
      readonly tamper: (body: Json) => Json
      readonly call: () => Promise<unknown>
      readonly location: string
    }> = [
      {
        path: /^\/contacts\/search$/,
        tamper: (body) => ({
          ...body,
          data: (body.data as Array<Json>).map((c) => ({ ...c, updated_at: "2026-01-05T09:00:00Z" }))
        }),
        call: () => sdk.contacts.search({ query: { field: "id", operator: "=", value: contact } }),
        location: "response.body.data.0.updated_at"
      },
      {
        path: /^\/contacts\/[^/]+$/,
        tamper: (body) => ({ ...body, has_hard_bounced: "no" }),
        call: () => sdk.contacts.find({ contact_id: contact }),
        location: "response.body.has_hard_bounced"
      },
      {
        path: /^\/conversations\/search$/,
        tamper: (body) => ({
          ...body,
          conversations: (body.conversations as Array<Json>).map((c) => ({ ...c, state: "archived" }))
        }),
        call: () => sdk.conversations.search({ query: { field: "id", operator: "=", value: conversation } }),
        location: "response.body.conversations.0.state"
      },
      {
        path: /^\/conversations\/[^/]+$/,
        tamper: (body) => ({ ...body, open: "yes" }),
        call: () => sdk.conversations.find({ conversation_id: conversation }),
        location: "response.body.open"
      },
      {
        path: /^\/tags$/,
        tamper: (body) => ({ ...body, type: "tag.list" }),
        call: () => sdk.tags.list(),
        location: "response.body.type"
      }
    ]
    for (const { call, location, path, tamper } of cases) {
      fake.setTamper((request, status, body) => path.test(request.path) && status === 200 ? tamper(body) : body)
      const { exchanges, result } = await through(() => failure(call, location))
      assert.strictEqual(result.statusCode, 500, location)
      assert.strictEqual((result.body as { type: string }).type, VIOLATIONS_TYPE, location)
      assert.deepInclude(
        exchanges.flatMap((exchange) => exchange.violations.map((v) => [v.severity, v.location.join(".")])),
        ["Error", location]
      )
    }

    fake.setTamper((_request, status, body) => status === 401 ? { type: body.type } : body)
    const noErrors = await through(() =>
      failure(() =>
        client({ token: "wrong", maxRetries: 0 }).contacts.search({
          query: { field: "id", operator: "=", value: contact }
        })
      )
    )
    assert.strictEqual(noErrors.result.statusCode, 500)
    assert.deepInclude(noErrors.exchanges.flatMap((exchange) => exchange.violations.map((v) => [v.code, v.message])), [
      "required",
      "Response body must have required property 'errors'"
    ])
  })
})
