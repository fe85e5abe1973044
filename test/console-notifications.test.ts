import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Either, FastCheck } from "effect"
import type { Page } from "playwright-core"
import { chartOf, MINUTE, scaleTop } from "../src/console/Chart.js"
import { sinkDeliveries } from "../src/console/Deliveries.js"
import { prettyJson } from "../src/console/PrettyJson.js"
import {
  type Condition,
  conditionsOf,
  formOf,
  matches,
  MAX_TERMS,
  plan,
  queryOf,
  termOf
} from "../src/console/Search.js"
import { canonicalTopics } from "../src/generated/index.js"
import { intercomTopics } from "../src/pipeline/Topics.js"
import type { LoggedNotification } from "../src/store/NotificationLog.js"
import { requireChromium } from "./support/Browser.js"
import {
  assertNoSecret,
  ConsoleSetup,
  OPERATOR,
  post,
  promise,
  READONLY,
  screenshot,
  signIn
} from "./support/ConsoleService.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"

const read = (q: string) => conditionsOf(q)

describe("the notification search's q", () => {
  it("reads prefixes, bare topics and bare ids; every term must hold", () => {
    assert.deepStrictEqual(read("  "), Either.right([]))
    assert.deepStrictEqual(
      read("topic:contact.user.created id:notif_1 contact:6a1f conversation:147 entity:ticket:42"),
      Either.right<ReadonlyArray<Condition>>([
        { _tag: "topic", topic: "contact.user.created" },
        { _tag: "id", id: "notif_1" },
        { _tag: "entity", entity: "contact:6a1f" },
        { _tag: "entity", entity: "conversation:147" },
        { _tag: "entity", entity: "ticket:42" }
      ])
    )
    assert.deepStrictEqual(
      read("ping contacts.created some.topic 6a1f"),
      Either.right<ReadonlyArray<Condition>>([
        { _tag: "topic", topic: "ping" },
        { _tag: "topic", topic: "contacts.created" },
        { _tag: "topic", topic: "some.topic" },
        { _tag: "any", term: "6a1f" }
      ])
    )
    assert.deepStrictEqual(
      read("Contact:5"),
      Either.right<ReadonlyArray<Condition>>([{ _tag: "entity", entity: "contact:5" }])
    )
  })

  it("refuses what it cannot read, saying what to fix", () => {
    const refused = (q: string) => Either.getOrThrow(Either.flip(read(q)))
    assert.match(refused("foo:bar"), /no known prefix: use topic:, id:, contact:, conversation:, entity:/)
    assert.match(refused("topic:"), /^topic: needs a value, such as topic:contacts\.created$/)
    assert.match(refused(`id:${"x".repeat(201)}`), /longer than 200 characters/)
    assert.match(refused("x".repeat(201)), /longer than 200 characters/)
    assert.match(refused(Array.from({ length: MAX_TERMS + 1 }, (_, n) => `t${n}`).join(" ")), /more than 8 terms/)
    const query = (fields: Partial<Record<"q" | "since" | "until" | "after", string>>) =>
      queryOf(formOf(new URLSearchParams(fields)))
    assert.match(Either.flip(query({ since: "yesterday" })).pipe(Either.getOrThrow), /^since must be an ISO 8601/)
    assert.match(Either.flip(query({ until: "2026-02-30" })).pipe(Either.getOrThrow), /^until must be an ISO 8601/)
    assert.match(
      Either.flip(query({ since: "2026-01-02", until: "2026-01-01" })).pipe(Either.getOrThrow),
      /since must not be after until/
    )
    for (const after of ["1", "1.", ".1", "1.2.3", "-1.2", "1e3.2", "99999999999999999.1"]) {
      assert.isTrue(Either.isLeft(query({ after })), after)
    }
    assert.deepStrictEqual(
      Either.map(query({ after: "1768018951000.42" }), (parsed) => parsed.after),
      Either.right({
        receivedAt: 1768018951000,
        seq: 42
      })
    )
  })

  it("gives the store one id or entity term and one topic; the listing checks the others", () => {
    const parsed = Either.getOrThrow(
      queryOf(formOf(new URLSearchParams({ q: "6a1f topic:ping id:n1 contacts.created" })))
    )
    const { rest, search } = plan(parsed)
    assert.deepStrictEqual(search.anyOf, { ids: ["6a1f"], entities: ["contact:6a1f", "conversation:6a1f"] })
    assert.strictEqual(search.topic, "ping")
    assert.deepStrictEqual(rest, [{ _tag: "id", id: "n1" }, { _tag: "topic", topic: "contacts.created" }])
    const logged: LoggedNotification = {
      seq: 1,
      notificationId: "n1",
      topic: "contacts.created",
      intercomTopic: "contact.user.created",
      appId: null,
      receivedAt: new Date(0),
      entity: "contact:6a1f",
      outcome: "accepted",
      schemaMismatch: null,
      sinks: []
    }
    const holds = (q: string) => Either.getOrThrow(conditionsOf(q)).every((condition) => matches(condition, logged))
    assert.isTrue(holds("6a1f contacts.created contact.user.created id:n1 contact:6a1f"))
    assert.isFalse(holds("contact.lead.created"))
    assert.isFalse(holds("conversation:6a1f"))
    assert.isFalse(holds("n2"))
  })

  const token = FastCheck.stringMatching(/^[\w-]{1,24}$/)
  const condition: FastCheck.Arbitrary<Condition> = FastCheck.oneof(
    FastCheck.constantFrom(...canonicalTopics, ...Object.keys(intercomTopics), "ticket.created", "odd:topic.x")
      .map((topic) => ({ _tag: "topic" as const, topic })),
    FastCheck.stringMatching(/^[\w.:-]{1,40}$/).map((id) => ({ _tag: "id" as const, id })),
    FastCheck.tuple(FastCheck.constantFrom("contact", "conversation", "ticket", "sha256", "topic"), token)
      .map(([kind, id]) => ({ _tag: "entity" as const, entity: `${kind}:${id}` })),
    token.filter((term) => !canonicalTopics.includes(term as never)).map((term) => ({ _tag: "any" as const, term }))
  )

  it.prop(
    "reads back every query it writes",
    [FastCheck.array(condition, { maxLength: MAX_TERMS })],
    ([conditions]) => {
      const q = conditions.map(termOf).join(" ")
      assert.deepStrictEqual(conditionsOf(q), Either.right(conditions), q)
    }
  )
})

describe("the notification page's parts", () => {
  it("indents a body keeping every token as received", () => {
    const body = `{"id":12345678901234567890,"n":1e2,"s":"a\\"b,{}[]:","e":{},"a":[],"d":1,"d":[1, {"x" : null}]}`
    assert.strictEqual(
      prettyJson(body),
      `{\n  "id": 12345678901234567890,\n  "n": 1e2,\n  "s": "a\\"b,{}[]:",\n  "e": {},\n  "a": [],\n  "d": 1,\n  "d": [\n` +
        `    1,\n    {\n      "x": null\n    }\n  ]\n}`
    )
    assert.isUndefined(prettyJson("{\"a\":"))
    assert.isUndefined(prettyJson("<script>"))
    assert.isUndefined(prettyJson(`${"[".repeat(5000)}${"]".repeat(5000)}`), "indenting would make it far larger")
  })

  it.prop("indents any JSON into the same value", [FastCheck.jsonValue()], ([value]) => {
    const text = JSON.stringify(value)
    assert.deepStrictEqual(JSON.parse(prettyJson(text)!), JSON.parse(text))
  })

  it("tells each sink's delivery: waiting, dead, replayed, delivered; dead letters without a sink too", () => {
    const letter = { id: 1, sink: "http", reason: "rejected", error: "x", attempts: 1, deadAt: new Date(0) } as const
    const found = sinkDeliveries(
      ["file", "http", "mirror", "redis"],
      {
        waiting: [{
          sink: "file",
          attempts: 2,
          nextAttemptAt: new Date(0),
          lastError: "https://u:pw@host/ answered 503"
        }],
        deadLetters: [
          { ...letter, replayedAt: new Date(1) },
          { ...letter, id: 2, replayedAt: null },
          { ...letter, id: 3, sink: "mirror", replayedAt: new Date(2) },
          { ...letter, id: 4, sink: null, reason: "no_route", replayedAt: null }
        ]
      },
      (sink) =>
        sink === "file" ? { _tag: "failing", since: 0, probeAt: 1, error: "http://a:secret@h/ down" } : undefined
    )
    assert.deepStrictEqual(found.map((delivery) => [delivery._tag, delivery.sink]), [
      ["waiting", "file"],
      ["dead", "http"],
      ["replayed", "mirror"],
      ["delivered", "redis"],
      ["dead", null]
    ])
    const waiting = found[0] as Extract<(typeof found)[number], { _tag: "waiting" }>
    assert.strictEqual(waiting.waiting.lastError, "https://u:***@host/ answered 503")
    assert.strictEqual(waiting.sinkFailure?.error, "http://a:***@h/ down")
    assert.strictEqual((found[1] as { letter: { id: number } }).letter.id, 2)
  })

  it("stacks each minute's outcomes on a scale of 1, 2, 5 times a power of ten", () => {
    assert.deepStrictEqual([1, 2, 3, 7, 10, 11, 51, 999].map(scaleTop), [1, 2, 5, 10, 10, 20, 100, 1000])
    const from = 1_768_000_000_000 - 1_768_000_000_000 % MINUTE
    const chart = chartOf([
      { minute: from + 59 * MINUTE, outcome: "refused", count: 2 },
      { minute: from + 59 * MINUTE, outcome: "accepted", count: 3 },
      { minute: from - MINUTE, outcome: "accepted", count: 100 }
    ], from)
    const bars = chart.shapes.filter((shape) => shape.tag === "rect")
    assert.deepStrictEqual(bars.map((bar) => [bar.attributes.class, bar.attributes.height, bar.attributes.y]), [
      ["outcome-accepted", 84, 66],
      ["outcome-refused", 56, 10]
    ])
    assert.match(bars[1]!.title!, / UTC refused: 2$/)
    assert.include(chart.shapes.filter((shape) => shape.tag === "text").map((shape) => shape.text), "5")
  })
})

const chromium = requireChromium()

const base = loadFixtures().find((candidate) => candidate.file === "contact-user-created.json")!.json as {
  readonly id: string
  readonly data: { readonly item: Record<string, unknown> }
}

let serial = 0
/** A contacts.created notification of its own: a new notification id and contact id, and `item` merged in. */
const notification = (item: Record<string, unknown> = {}) => {
  const stamp = `${Date.now()}-${++serial}`
  const id = `notif_console_${stamp}`
  const contactId = `contact_${stamp}`
  const body = Buffer.from(JSON.stringify({
    ...base,
    id,
    data: { ...base.data, item: { ...base.data.item, id: contactId, ...item } }
  }))
  return { id, contactId, body }
}

/** The rows' cells of the list on the page, by column. */
const listed = (page: Page) =>
  promise(() =>
    page.locator("#notifications tr").evaluateAll((rows) =>
      rows.map((row) => [...row.querySelectorAll("td")].map((cell) => cell.textContent ?? ""))
    )
  )

/** Searches with the form, as someone would. */
const search = (page: Page, q: string) =>
  promise(async () => {
    await page.fill("form.search input[name=q]", q)
    await Promise.all([page.waitForURL(/[?&]q=/), page.click("form.search button[type=submit]")])
  })

/** Opens a notification's page from the list, waiting until the log has it. */
const open = (page: Page, url: string, id: string) =>
  promise(async () => {
    await page.goto(`${url}/notifications?${new URLSearchParams({ q: `id:${id}` })}`)
    const link = page.locator("#notifications tr", { hasText: id }).locator("td:first-child a")
    await link.waitFor({ timeout: 10_000 })
    await Promise.all([page.waitForURL(/\/notifications\/\d+$/), link.click()])
    return page.url()
  })

/** Reloads the page until `#deliveries` says what `done` wants. */
const deliveriesUntil = (page: Page, what: string, done: (text: string) => boolean) =>
  eventually(
    what,
    promise(async () => {
      await page.reload()
      return (await page.textContent("#deliveries")) ?? ""
    }),
    done,
    "15 seconds"
  )

const sinkRow = (page: Page, sink: string) =>
  page.locator("#deliveries tbody tr").filter({
    has: page.locator("td:first-child", { hasText: new RegExp(`^${sink}$`) })
  })

describe.runIf(chromium)("the console's notification pages", () => {
  layer(ConsoleSetup.layer("http,mirror"), { excludeTestServices: true, timeout: 30_000 })((it) => {
    it.scoped("list a notification sent through the webhook without a reload, and find it by contact, topic and id", () =>
      Effect.gen(function*() {
        const setup = yield* ConsoleSetup
        setup.target.status = 200
        const { context, page } = yield* signIn(OPERATOR)
        yield* promise(() =>
          Promise.all([page.waitForURL(`${setup.url}/notifications`), page.click("nav a[href='/notifications']")])
        )
        assert.strictEqual(page.url(), `${setup.url}/notifications`)
        yield* promise(() => page.evaluate("window.sameDocument = true"))
        const sent = notification()
        assert.strictEqual(yield* post(setup.webhookUrl, sent.body), 200)
        // The page already open polls: the row appears in the same document.
        yield* promise(() => page.locator("#notifications tr", { hasText: sent.id }).waitFor({ timeout: 10_000 }))
        assert.isTrue(yield* promise(() => page.evaluate("window.sameDocument")))
        const row = (yield* listed(page)).find((cells) => cells[1] === sent.id)!
        assert.match(row[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        assert.deepStrictEqual(row.slice(1), [
          sent.id,
          "contacts.created",
          "contact.user.created",
          `contact:${sent.contactId}`,
          "accepted",
          "match"
        ])
        yield* screenshot(page, "notifications")
        // The rows the script built are the rows the server renders.
        const tbody = () => promise(() => page.innerHTML("#notifications"))
        const fromScript = yield* tbody()
        yield* promise(() => page.reload())
        assert.strictEqual(yield* tbody(), fromScript)
        yield* assertNoSecret(yield* promise(() => page.content()), context)

        const other = notification()
        assert.strictEqual(yield* post(setup.webhookUrl, other.body), 200)
        const ids = Effect.map(listed(page), (rows) => rows.map((cells) => cells[1]))
        for (
          const q of [
            sent.contactId,
            `contact:${sent.contactId}`,
            `id:${sent.id}`,
            `${sent.contactId} contacts.created`
          ]
        ) {
          yield* search(page, q)
          assert.deepStrictEqual(yield* ids, [sent.id], q)
        }
        for (const q of ["contacts.created", "topic:contact.user.created"]) {
          yield* search(page, q)
          yield* eventually("both listed", ids, (found) => found.includes(sent.id) && found.includes(other.id))
          const topics = (yield* listed(page)).map((cells) => cells[2])
          assert.isTrue(topics.every((topic) => topic === "contacts.created"), q)
        }
        yield* search(page, `${sent.contactId} topic:conversations.created`)
        assert.deepStrictEqual(yield* ids, [])
        assert.strictEqual(yield* promise(() => page.textContent("#listing-status")), "No notification matches.")

        const refused = yield* promise(() =>
          page.goto(`${setup.url}/notifications?${new URLSearchParams({ q: "<b>x</b>:1", since: "yesterday" })}`)
        )
        assert.strictEqual(refused!.status(), 400)
        assert.include(yield* promise(() => page.textContent("main .error")), "has no known prefix")
        assert.strictEqual(yield* promise(() => page.inputValue("form.search input[name=q]")), "<b>x</b>:1")
        assert.strictEqual(yield* promise(() => page.locator("main b").count()), 0)
        const since = yield* promise(() => page.goto(`${setup.url}/notifications?since=yesterday`))
        assert.strictEqual(since!.status(), 400)
        assert.include(yield* promise(() => page.textContent("main .error")), "since must be an ISO 8601")
        const after = yield* promise(() => page.goto(`${setup.url}/notifications?after=12.x`))
        assert.strictEqual(after!.status(), 400)
        yield* screenshot(page, "notifications-invalid")
      }))

    it.effect("answer scripts as JSON: the list, a bad search, and pages that do not exist", () =>
      Effect.gen(function*() {
        const setup = yield* ConsoleSetup
        setup.target.status = 200
        const sent = notification()
        assert.strictEqual(yield* post(setup.webhookUrl, sent.body), 200)
        const call = (path: string, init: RequestInit = {}) =>
          promise(() =>
            fetch(`${setup.url}${path}`, { headers: { authorization: `Bearer ${READONLY}` }, ...init }).then(
              async (response) => ({ status: response.status, body: await response.text() })
            )
          )
        const found = yield* eventually(
          "the notification in the JSON list",
          call(`/api/notifications?${new URLSearchParams({ q: `id:${sent.id}` })}`),
          (answer) => answer.body.includes(sent.id)
        )
        const json = JSON.parse(found.body) as { rows: Array<Record<string, unknown>>; older: unknown; status: string }
        assert.strictEqual(found.status, 200)
        assert.lengthOf(json.rows, 1)
        assert.deepInclude(json.rows[0]!, {
          notificationId: sent.id,
          topic: "contacts.created",
          intercomTopic: "contact.user.created",
          entity: `contact:${sent.contactId}`,
          outcome: "accepted",
          schema: "match",
          schemaMismatch: null,
          sinks: ["http", "mirror"]
        })
        assert.strictEqual(json.older, null)
        const bad = yield* call("/api/notifications?q=nope:1")
        assert.strictEqual(bad.status, 400)
        assert.strictEqual((JSON.parse(bad.body) as { error: string }).error, "invalid_search")
        assert.strictEqual((yield* call("/api/notifications", { headers: {} })).status, 401)
        assert.strictEqual((yield* call(`/notifications/${json.rows[0]!.seq}`)).status, 200)
        assert.strictEqual((yield* call("/notifications/999999999")).status, 404)
        assert.strictEqual((yield* call("/notifications/abc")).status, 404)
        assert.strictEqual((yield* call("/notifications/1/x")).status, 404)
        assert.strictEqual((yield* call("/notifications/1", { method: "POST" })).status, 405)
        assert.strictEqual((yield* call("/api/notifications", { method: "POST" })).status, 405)
      }))

    it.effect("page through the log 50 at a time, newest first, and check terms the store does not search", () =>
      Effect.gen(function*() {
        const setup = yield* ConsoleSetup
        setup.target.status = 200
        const contactId = `contact_paged_${Date.now()}`
        const ids: Array<string> = []
        for (let n = 0; n < 55; n++) {
          const sent = notification({ id: contactId })
          ids.push(sent.id)
          assert.strictEqual(yield* post(setup.webhookUrl, sent.body), 200)
        }
        interface Page {
          readonly rows: ReadonlyArray<{ readonly notificationId: string }>
          readonly older: string | null
        }
        const list = (query: Record<string, string>) =>
          promise(() =>
            fetch(`${setup.url}/api/notifications?${new URLSearchParams(query)}`, {
              headers: { authorization: `Bearer ${OPERATOR}` }
            }).then((response) => response.json() as Promise<Page>)
          )
        const first = yield* eventually(
          "all 55 logged",
          list({ q: `contact:${contactId}` }),
          (page) => page.rows[0]?.notificationId === ids.at(-1)
        )
        assert.lengthOf(first.rows, 50)
        assert.match(first.older!, /^\d+\.\d+$/)
        const second = yield* list({ q: `contact:${contactId}`, after: first.older! })
        assert.strictEqual(second.older, null)
        const listed = [...first.rows, ...second.rows].map((row) => row.notificationId)
        assert.deepStrictEqual(listed, [...ids].reverse())

        // Two id-or-entity terms: the store searches the first, the console checks the second.
        const both = yield* list({ q: `${contactId} id:${ids[3]}` })
        assert.deepStrictEqual(both.rows.map((row) => row.notificationId), [ids[3]])
        const none = yield* list({ q: `contact:${contactId} conversation:${contactId}` })
        assert.deepStrictEqual(none.rows, [])
      }))

    it.scoped("show one notification: body, schema, deliveries waiting then delivered, the mirror's change", () =>
      Effect.gen(function*() {
        const setup = yield* ConsoleSetup
        const { context, page } = yield* signIn(OPERATOR)
        setup.target.status = 503
        const sent = notification()
        assert.strictEqual(yield* post(setup.webhookUrl, sent.body), 200)
        const address = yield* open(page, setup.url, sent.id)

        assert.strictEqual(yield* promise(() => page.textContent("h1")), `Notification ${address.split("/").at(-1)}`)
        const facts = yield* promise(() => page.textContent("#facts"))
        for (const fact of [sent.id, "contact.user.created", `contact:${sent.contactId}`, "q8f3kz1m", "http, mirror"]) {
          assert.include(facts, fact)
        }
        assert.isTrue(yield* promise(() => page.locator("#body details[open] pre.body").isVisible()))
        const shown = (yield* promise(() => page.textContent("#body pre.body")))!
        assert.include(shown, `\n  "id": "${sent.id}",\n`)
        assert.deepStrictEqual(JSON.parse(shown), JSON.parse(sent.body.toString()))
        assert.include(yield* promise(() => page.textContent("#schema")), "It matched the schema of contacts.created.")

        const http = sinkRow(page, "http")
        yield* deliveriesUntil(
          page,
          "the http delivery waiting with its error",
          (text) => text.includes("answered 503")
        )
        const waiting = yield* promise(() => http.locator("td").allTextContents())
        assert.strictEqual(waiting[1], "waiting")
        assert.match(waiting[2]!, /^\d+ attempt\(s\); next try \d{4}-.*Z \((in [\dmhs ]+|due)\)/)
        assert.include(waiting[2], "console:***@127.0.0.1")
        assert.strictEqual(
          yield* promise(() => sinkRow(page, "mirror").locator("td:nth-child(2)").textContent()),
          "delivered"
        )

        const change = yield* promise(() => page.locator("#mirror tbody tr").allTextContents())
        assert.lengthOf(change, 1)
        for (const part of ["UpsertContact", "intercom_contacts", sent.contactId, "emailada.lovelace@example.org"]) {
          assert.include(change[0], part)
        }
        assert.include(change[0], "2026-01-10T04:22:31.000Z (1768018951)")
        assert.strictEqual(yield* promise(() => page.textContent("#mirror td.standing")), "current")
        assert.notInclude(change[0], "\"workspace_id\"", "data is not among the columns shown")
        yield* assertNoSecret(yield* promise(() => page.content()), context)
        yield* screenshot(page, "notification-waiting", 1100)

        setup.target.status = 200
        yield* deliveriesUntil(page, "the http delivery done", (text) => !text.includes("waiting"))
        assert.strictEqual(yield* promise(() => http.locator("td:nth-child(2)").textContent()), "delivered")
        yield* screenshot(page, "notification", true)

        // A newer state of the same contact: the first notification's change is now behind the mirror's row.
        const newer = Buffer.from(JSON.stringify({
          ...JSON.parse(sent.body.toString()),
          id: `${sent.id}-newer`,
          data: {
            ...base.data,
            item: { ...base.data.item, id: sent.contactId, updated_at: "2026-01-10T05:00:00.000+00:00" }
          }
        }))
        assert.strictEqual(yield* post(setup.webhookUrl, newer), 200)
        yield* eventually(
          "the first change superseded",
          promise(async () => {
            await page.reload()
            return await page.textContent("#mirror td.standing")
          }),
          (standing) => standing === "superseded by a newer state"
        )
      }))

    it.scoped("show a sink's dead letter, linked to the dead-letter page", () =>
      Effect.gen(function*() {
        const setup = yield* ConsoleSetup
        const { page } = yield* signIn(OPERATOR)
        setup.target.status = 400
        const sent = notification()
        assert.strictEqual(yield* post(setup.webhookUrl, sent.body), 200)
        yield* open(page, setup.url, sent.id)
        yield* deliveriesUntil(page, "the http dead letter", (text) => text.includes("dead letter"))
        const cells = yield* promise(() => sinkRow(page, "http").locator("td").allTextContents())
        assert.strictEqual(cells[1], "dead")
        assert.match(cells[2]!, /^rejected at .*Z, after \d+ attempt\(s\): .*answered 400/)
        assert.include(cells[2], "console:***@127.0.0.1")
        yield* screenshot(page, "notification-dead", true)
        yield* promise(() =>
          Promise.all([page.waitForURL(/\/dead-letters\?/), sinkRow(page, "http").locator("a").click()])
        )
        const url = new URL(page.url())
        assert.deepInclude(Object.fromEntries(url.searchParams), {
          sink: "http",
          reason: "rejected",
          topic: "contacts.created"
        })
        assert.strictEqual(
          yield* promise(() => page.locator("#dead-letters tbody tr", { hasText: sent.id }).count()),
          1
        )
      }))

    it.scoped("render a hostile notification inert: no markup made, nothing run, no page wider than the window", () =>
      Effect.gen(function*() {
        const setup = yield* ConsoleSetup
        setup.target.status = 200
        const { page } = yield* signIn(OPERATOR)
        const dialogs: Array<string> = []
        page.on("dialog", (dialog) => {
          dialogs.push(dialog.message())
          void dialog.dismiss()
        })
        const long = "x".repeat(100_000)
        const sent = notification({
          id: `<i id="injected">c</i>-${Date.now()}`,
          name: "<script>window.injected = 1</script><img src=/x onerror=\"window.injected = 2; alert(2)\">",
          custom_attributes: { essay: long, "<b>key</b>": "</pre><script>alert(3)</script>" }
        })
        const contactId = (JSON.parse(sent.body.toString()) as typeof base).data.item.id as string
        assert.strictEqual(yield* post(setup.webhookUrl, sent.body), 200)
        const injected = () =>
          promise(() =>
            page.evaluate(`({
              flag: window.injected,
              elements: document.querySelectorAll("#injected, main img, main script, main b, main i").length,
              scripts: [...document.scripts].map((script) => script.getAttribute("src")),
              wider: document.documentElement.scrollWidth > window.innerWidth
            })`)
          )
        const inert = { flag: undefined, elements: 0, scripts: ["/console.js"], wider: false }

        yield* promise(() => page.goto(`${setup.url}/notifications`))
        yield* promise(() => page.locator("#notifications tr", { hasText: sent.id }).waitFor({ timeout: 10_000 }))
        assert.include((yield* listed(page)).find((cells) => cells[1] === sent.id), `contact:${contactId}`)
        assert.deepStrictEqual(yield* injected(), inert)

        yield* open(page, setup.url, sent.id)
        const shown = (yield* promise(() => page.textContent("#body pre.body")))!
        assert.include(shown, long)
        assert.include(shown, "<script>window.injected = 1</script>")
        assert.include(yield* promise(() => page.textContent("#mirror")), "<script>window.injected")
        assert.deepStrictEqual(yield* injected(), inert)
        yield* screenshot(page, "notification-hostile")
        assert.deepStrictEqual(dialogs, [])
      }))

    it.scoped("show a notification that does not match its schema, to a read-only session too", () =>
      Effect.gen(function*() {
        const setup = yield* ConsoleSetup
        setup.target.status = 200
        const { page } = yield* signIn(READONLY)
        const sent = notification({ email: 42 })
        assert.strictEqual(yield* post(setup.webhookUrl, sent.body), 200)
        yield* promise(() => page.goto(`${setup.url}/notifications?${new URLSearchParams({ q: `id:${sent.id}` })}`))
        yield* promise(() => page.locator("#notifications tr", { hasText: sent.id }).waitFor({ timeout: 10_000 }))
        assert.strictEqual((yield* listed(page))[0]![6], "mismatch")
        yield* open(page, setup.url, sent.id)
        const mismatch = page.locator("#schema.mismatch[role=alert]")
        assert.include(yield* promise(() => mismatch.textContent()), "data.item.email: expected string, got 42")
        assert.include(
          yield* promise(() => page.textContent("#mirror")),
          "The mirror takes no change from it: it does not match its schema"
        )
        assert.strictEqual(yield* promise(() => page.locator("main form").count()), 0)
        yield* screenshot(page, "notification-mismatch", true)
      }))

    it.scoped("chart the requests per minute on the overview, live: accepted, duplicate and refused", () =>
      Effect.gen(function*() {
        const setup = yield* ConsoleSetup
        setup.target.status = 200
        const { page } = yield* signIn(OPERATOR)
        yield* promise(() => page.evaluate("window.sameDocument = true"))
        const totals = promise(() =>
          page.evaluate(`Object.fromEntries(["accepted", "duplicate", "refused"].map((outcome) =>
            [outcome, Number(document.getElementById("hour-" + outcome).textContent)]))`)
        ) as Effect.Effect<Record<string, number>>
        const before = yield* totals
        const sent = notification()
        assert.strictEqual(yield* post(setup.webhookUrl, sent.body), 200)
        assert.strictEqual(yield* post(setup.webhookUrl, sent.body), 200)
        assert.strictEqual(yield* post(setup.webhookUrl, sent.body, `sha1=${"0".repeat(40)}`), 401)
        const after = yield* eventually(
          "the totals counting them",
          totals,
          (now) =>
            now.accepted! > before.accepted! && now.duplicate! > before.duplicate! && now.refused! > before.refused!
        )
        assert.isTrue(yield* promise(() => page.evaluate("window.sameDocument")))
        assert.isAtLeast(after.refused!, 1)
        const bars = yield* promise(() =>
          page.locator("#traffic-chart rect").evaluateAll((rects) =>
            rects.map((rect) => ({ outcome: rect.getAttribute("class"), title: rect.textContent ?? "" }))
          )
        )
        for (const outcome of ["accepted", "duplicate", "refused"]) {
          assert.isTrue(
            bars.some((bar) =>
              bar.outcome === `outcome-${outcome}` && new RegExp(` ${outcome}: \\d+$`).test(bar.title)
            ),
            outcome
          )
        }
        assert.strictEqual(yield* promise(() => page.locator("ul.legend li").count()), 5)
        yield* screenshot(page, "overview-chart", true)
        yield* promise(() => page.goto(`${setup.url}/notifications`))
        yield* screenshot(page, "notifications-many")
      }))
  })
})
