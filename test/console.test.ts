import { assert, describe, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { request as httpRequest } from "node:http"
import { configMessages } from "../src/config/ConfigMessages.js"
import { consoleSettings } from "../src/config/ConsoleConfig.js"
import { requireChromium } from "./support/Browser.js"
import {
  assertNoSecret,
  ConsoleSetup,
  freePort,
  freshPage,
  OPERATOR,
  post,
  promise,
  READONLY,
  screenshot,
  signIn,
  spawnConsole,
  tempDir
} from "./support/ConsoleService.js"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { canConnect } from "./support/Services.js"

const fixture = loadFixtures().find((candidate) => candidate.topic === "contacts.created")!
const fixtureId = (fixture.json as { id: string }).id

/** A POST from `localAddress` (127.0.0.x): failed sign-ins are counted per remote address. */
const postFrom = (localAddress: string, url: string, form: string) =>
  promise(() =>
    new Promise<number>((resolve, reject) => {
      const request = httpRequest(url, {
        method: "POST",
        localAddress,
        headers: { "content-type": "application/x-www-form-urlencoded" }
      }, (response) => {
        response.resume()
        resolve(response.statusCode!)
      })
      request.on("error", reject)
      request.end(form)
    })
  )

describe("console settings", () => {
  const read = (env: Record<string, string>) =>
    Effect.withConfigProvider(consoleSettings, ConfigProvider.fromMap(new Map(Object.entries(env))))

  it.effect("refuse a short token, equal tokens and a read-only token alone, by name", () =>
    Effect.gen(function*() {
      const refused = (env: Record<string, string>) => Effect.map(Effect.flip(read(env)), configMessages)
      assert.deepStrictEqual(yield* refused({ CONSOLE_TOKEN: "short-token" }), [
        "CONSOLE_TOKEN must be at least 16 characters (it guards replay)"
      ])
      assert.deepStrictEqual(yield* refused({ CONSOLE_TOKEN: OPERATOR, CONSOLE_READONLY_TOKEN: OPERATOR }), [
        "CONSOLE_READONLY_TOKEN must differ from CONSOLE_TOKEN"
      ])
      assert.match(
        (yield* refused({ CONSOLE_READONLY_TOKEN: READONLY })).join(),
        /^CONSOLE_READONLY_TOKEN is set without/
      )
      assert.match((yield* refused({ CONSOLE_TOKEN: OPERATOR, CONSOLE_PORT: "70000" })).join(), /^CONSOLE_PORT must/)
      const off = yield* read({})
      assert.strictEqual(off.token._tag, "None")
      assert.deepStrictEqual([off.host, off.port], ["127.0.0.1", 8081])
    }))
})

const chromium = requireChromium()

describe.runIf(chromium)("the operator console", () => {
  it.live("is off without CONSOLE_TOKEN: nothing listens on its port", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir("console-off-")
      const port = yield* freePort
      const service = yield* spawnConsole({ DATA_DIR: dataDir, SINKS: "file", CONSOLE_PORT: String(port) }, "off")
      assert.strictEqual(service.consoleUrl, undefined)
      assert.isFalse(yield* promise(() => canConnect("127.0.0.1", port)))
    }).pipe(Effect.scoped))

  layer(ConsoleSetup.layer("http"), { excludeTestServices: true, timeout: 30_000 })((it) => {
    it.scoped("sends everyone to sign in; a wrong token is 401 and sets no cookie; the right one a strict cookie", () =>
      Effect.gen(function*() {
        const { url } = yield* ConsoleSetup
        const { context, page } = yield* freshPage
        yield* promise(() => page.goto(`${url}/dead-letters`))
        assert.strictEqual(page.url(), `${url}/login`)
        yield* screenshot(page, "login")
        yield* assertNoSecret(yield* promise(() => page.content()))

        yield* promise(() => page.fill("input[name=token]", `${OPERATOR}x`))
        const refused = yield* promise(() =>
          Promise.all([page.waitForResponse(`${url}/login`), page.click("button[type=submit]")]).then(([r]) => r)
        )
        assert.strictEqual(refused.status(), 401)
        assert.include(yield* promise(() => page.textContent("main")), "Wrong token.")
        assert.deepStrictEqual(yield* promise(() => context.cookies()), [])

        yield* promise(() => page.fill("input[name=token]", OPERATOR))
        yield* promise(() => Promise.all([page.waitForURL(`${url}/`), page.click("button[type=submit]")]))
        const cookies = yield* promise(() => context.cookies())
        assert.strictEqual(cookies.length, 1)
        assert.include(cookies[0], { name: "console_session", httpOnly: true, sameSite: "Strict", path: "/" })
        assert.match(cookies[0]!.value, /^[\w-]{43}$/)
        assert.strictEqual(yield* promise(() => page.textContent("h1")), "Overview")

        const headers = yield* promise(() => fetch(`${url}/login`).then((response) => response.headers))
        assert.strictEqual(
          headers.get("content-security-policy"),
          "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; " +
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        assert.strictEqual(headers.get("x-content-type-options"), "nosniff")
        assert.strictEqual(headers.get("referrer-policy"), "same-origin")
        assert.strictEqual(headers.get("cache-control"), "no-store")
      }))

    it.scoped("shows a refused notification's dead letter live and inert, and delivers it after a replay", () =>
      Effect.gen(function*() {
        const setup = yield* ConsoleSetup
        const { page, context } = yield* signIn(OPERATOR)
        const dialogs: Array<string> = []
        page.on("dialog", (dialog) => {
          dialogs.push(dialog.message())
          void dialog.dismiss()
        })
        yield* promise(() => page.evaluate("window.sameDocument = true"))
        const before = Number(yield* promise(() => page.textContent("#dead-total")))

        setup.target.status = 400
        const hostileTopic = "<script>window.injected = 1</script>"
        const hostileId = `"><img id="injected" src="/x" onerror="window.injected = 2">${"z".repeat(120)}`
        const hostile = Buffer.from(JSON.stringify({
          type: "notification_event",
          topic: hostileTopic,
          id: hostileId,
          data: { item: { type: "ticket", id: "<b>bold</b>" } }
        }))
        assert.strictEqual(yield* post(setup.webhookUrl, fixture.bytes), 200)
        assert.strictEqual(yield* post(setup.webhookUrl, hostile), 200)
        // The count changes in the page already loaded: the script polls, nothing reloads.
        yield* promise(() =>
          page.locator("#dead-total", { hasText: new RegExp(`^${before + 2}$`) }).waitFor({ timeout: 10_000 })
        )
        assert.isTrue(yield* promise(() => page.evaluate("window.sameDocument")))
        assert.include(yield* promise(() => page.textContent("#dead")), "rejected")
        yield* screenshot(page, "overview")
        yield* assertNoSecret(yield* promise(() => page.content()), context)

        yield* promise(() => page.goto(`${setup.url}/dead-letters`))
        const table = yield* promise(() => page.textContent("#dead-letters tbody"))
        assert.include(table, fixtureId)
        // Escaped: shown as text, no element made of it, nothing ran.
        assert.include(table, hostileTopic)
        assert.strictEqual(yield* promise(() => page.locator("#dead-letters td", { hasText: hostileTopic }).count()), 1)
        const idCell = page.locator("#dead-letters td[title]", { hasText: "\"><img" })
        assert.strictEqual(yield* promise(() => idCell.getAttribute("title")), hostileId)
        assert.isBelow((yield* promise(() => idCell.textContent()))!.length, hostileId.length)
        const injected = () =>
          promise(() =>
            page.evaluate(`({
              flag: window.injected,
              elements: document.querySelectorAll("#injected, main img, main script, b").length,
              scripts: [...document.scripts].map((script) => script.getAttribute("src"))
            })`)
          )
        assert.deepStrictEqual(yield* injected(), { flag: undefined, elements: 0, scripts: ["/console.js"] })
        const errors = yield* promise(() => page.locator("#dead-letters td:nth-child(8)").allTextContents())
        assert.isTrue(errors.some((error) => error.includes("console:***@127.0.0.1")))
        yield* assertNoSecret(yield* promise(() => page.content()), context)
        yield* screenshot(page, "dead-letters")

        // A filter echoes whatever it is given, 10,000 characters included, as the value of its field.
        const long = `"><script>window.injected = 3</script>${"x".repeat(10_000)}`
        yield* promise(() =>
          page.goto(`${setup.url}/dead-letters?${new URLSearchParams({ topic: long, reason: "<i>" })}`)
        )
        assert.strictEqual(yield* promise(() => page.inputValue("form.filter input[name=topic]")), long)
        assert.include(yield* promise(() => page.textContent("main")), "reason must be one of")
        assert.deepStrictEqual(yield* injected(), { flag: undefined, elements: 0, scripts: ["/console.js"] })
        yield* screenshot(page, "dead-letters-hostile-filter")

        setup.target.status = 200
        const seen = setup.target.requests.length
        yield* promise(() => page.goto(`${setup.url}/dead-letters?sink=http`))
        yield* promise(() =>
          Promise.all([page.waitForURL(/replayed=/), page.click("form.replay button[value=replay]")])
        )
        assert.strictEqual(yield* promise(() => page.textContent(".flash")), "Replayed 2 dead letter(s).")
        const delivered = yield* eventually(
          "the replayed notifications at the target",
          Effect.sync(() => setup.target.requests.slice(seen)),
          (requests) => requests.length === 2
        )
        assert.sameMembers(delivered.map((request) => request.body.toString()), [
          fixture.bytes.toString(),
          hostile.toString()
        ])
        yield* promise(() => page.goto(`${setup.url}/dead-letters`))
        const after = yield* promise(() => page.textContent("#dead-letters tbody"))
        assert.notInclude(after, fixtureId)
        assert.notInclude(after, hostileTopic)
        yield* screenshot(page, "dead-letters-replayed")
        assert.deepStrictEqual(dialogs, [])
      }))

    it.scoped("shows, live, a sink whose target is down as failing with what waits for it, and healthy once it is back", () =>
      Effect.gen(function*() {
        const setup = yield* ConsoleSetup
        const { page } = yield* signIn(OPERATOR)
        const row = page.locator("#sinks tr", { hasText: "http" })
        const state = row.locator("td.state")
        assert.strictEqual(yield* promise(() => state.textContent()), "healthy")
        setup.target.status = 503
        const another = Buffer.from(JSON.stringify({ ...(fixture.json as object), id: "notif_console_failing" }))
        assert.strictEqual(yield* post(setup.webhookUrl, another), 200)
        yield* promise(() => state.filter({ hasText: /^(failing|probing)$/ }).waitFor({ timeout: 10_000 }))
        const cells = yield* promise(() => row.locator("td").allTextContents())
        assert.match(cells[2]!, /^\d+s ago$/)
        assert.strictEqual(cells[3], "1")
        assert.match(cells[4]!, /^\d+s$/)
        assert.include(yield* promise(() => state.getAttribute("title")), "answered 503")
        yield* screenshot(page, "overview-failing")
        setup.target.status = 200
        yield* promise(() => state.filter({ hasText: /^healthy$/ }).waitFor({ timeout: 10_000 }))
        yield* promise(() => row.locator("td.number", { hasText: /^0$/ }).waitFor({ timeout: 10_000 }))
      }))

    it.scoped("refuses a POST without the session's CSRF token, or from another origin", () =>
      Effect.gen(function*() {
        const { url } = yield* ConsoleSetup
        const { context, page } = yield* signIn(OPERATOR)
        yield* promise(() => page.goto(`${url}/dead-letters`))
        const csrf = yield* promise(() => page.inputValue("form.replay input[name=csrf]"))
        const replay = (form: Record<string, string>, headers: Record<string, string> = {}) =>
          promise(() =>
            context.request.post(`${url}/dead-letters/replay`, { form, headers, maxRedirects: 0 })
              .then((response) => response.status())
          )
        const filter = { sink: "http", topic: "no.such.topic", since: "" }
        assert.strictEqual(yield* replay(filter), 403)
        assert.strictEqual(yield* replay({ ...filter, csrf: `${csrf}x` }), 403)
        assert.strictEqual(yield* replay({ ...filter, csrf }, { origin: "http://evil.example" }), 403)
        // The same form, right token and own origin: the refusals above were for the token and the origin.
        assert.strictEqual(yield* replay({ ...filter, csrf }, { origin: url }), 303)
        assert.strictEqual(
          yield* promise(() =>
            context.request.post(`${url}/logout`, { form: {}, maxRedirects: 0 }).then((response) => response.status())
          ),
          403
        )
      }))

    it.scoped("a read-only session sees every page, has no replay button, and a forged replay is refused", () =>
      Effect.gen(function*() {
        const { url } = yield* ConsoleSetup
        const { context, page } = yield* signIn(READONLY)
        assert.strictEqual(yield* promise(() => page.textContent("nav .role")), "read-only")
        yield* assertNoSecret(yield* promise(() => page.content()), context)
        const answer = yield* promise(() => page.goto(`${url}/dead-letters`))
        assert.strictEqual(answer!.status(), 200)
        assert.strictEqual(yield* promise(() => page.locator("form.replay, button[value=replay]").count()), 0)
        assert.include(yield* promise(() => page.textContent("main")), "Signed in read-only")
        yield* assertNoSecret(yield* promise(() => page.content()), context)
        yield* screenshot(page, "dead-letters-readonly")
        const csrf = yield* promise(() => page.inputValue("form.logout input[name=csrf]"))
        const forged = yield* promise(() =>
          context.request.post(`${url}/dead-letters/replay`, {
            form: { sink: "http", topic: "", since: "", csrf },
            headers: { origin: url },
            maxRedirects: 0
          })
        )
        assert.strictEqual(forged.status(), 403)
      }))

    it.effect("answers scripts with a bearer token, without session or CSRF; refuses a wrong or missing one", () =>
      Effect.gen(function*() {
        const { url } = yield* ConsoleSetup
        const call = (path: string, init: RequestInit = {}) =>
          promise(() =>
            fetch(`${url}${path}`, { redirect: "manual", ...init }).then(async (response) => ({
              status: response.status,
              json: response.status === 303 ? {} : await response.json() as Record<string, unknown>
            }))
          )
        const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
        const overview = yield* call("/api/overview", { headers: bearer(OPERATOR) })
        assert.strictEqual(overview.status, 200)
        assert.deepInclude(overview.json.sinks as Array<unknown>, {
          sink: "http",
          state: "healthy",
          since: null,
          error: null,
          waiting: 0,
          oldest: null
        })
        assert.strictEqual((yield* call("/api/overview", { headers: bearer(READONLY) })).status, 200)
        assert.strictEqual((yield* call("/api/overview", { headers: bearer(`${OPERATOR}x`) })).status, 401)
        assert.strictEqual((yield* call("/api/overview")).status, 401)
        assert.strictEqual((yield* call("/")).status, 303)
        const form = { method: "POST", body: new URLSearchParams({ sink: "http", topic: "no.such.topic" }) }
        assert.strictEqual((yield* call("/dead-letters/replay", form)).status, 401)
        const refused = yield* call("/dead-letters/replay", { ...form, headers: bearer(READONLY) })
        assert.strictEqual(refused.status, 403)
        const replayed = yield* call("/dead-letters/replay", { ...form, headers: bearer(OPERATOR) })
        assert.deepStrictEqual(replayed, { status: 200, json: { replayed: 0 } })
      }))

    it.scoped("replays one selected dead letter, and discards another only after confirming", () =>
      Effect.gen(function*() {
        const setup = yield* ConsoleSetup
        const { page } = yield* signIn(OPERATOR)
        setup.target.status = 400
        const ids = ["select-1", "select-2", "select-3"].map((id) => `${id}-${Date.now()}`)
        const bodies = ids.map((id) => Buffer.from(JSON.stringify({ ...(fixture.json as object), id })))
        for (const body of bodies) assert.strictEqual(yield* post(setup.webhookUrl, body), 200)
        const rowOf = (id: string) => page.locator("#dead-letters tbody tr", { hasText: id })
        yield* eventually(
          "three dead letters listed",
          promise(async () => {
            await page.goto(`${setup.url}/dead-letters?sink=http`)
            return (await Promise.all(ids.map((id) => rowOf(id).count()))).every((count) => count === 1)
          }),
          (listed) => listed
        )

        setup.target.status = 200
        const seen = setup.target.requests.length
        yield* promise(() => rowOf(ids[0]!).locator("input[type=checkbox]").check())
        yield* promise(() =>
          Promise.all([page.waitForURL(/replayed=/), page.click("form.selection button[value=replay-selected]")])
        )
        assert.strictEqual(yield* promise(() => page.textContent(".flash")), "Replayed 1 dead letter(s).")
        const delivered = yield* eventually(
          "the one selected at the target",
          Effect.sync(() => setup.target.requests.slice(seen)),
          (requests) => requests.length >= 1
        )
        assert.deepStrictEqual(delivered.map((request) => request.body.toString()), [bodies[0]!.toString()])

        yield* promise(() => page.goto(`${setup.url}/dead-letters?sink=http`))
        yield* promise(() => rowOf(ids[1]!).locator("input[type=checkbox]").check())
        yield* promise(() =>
          Promise.all([
            page.waitForURL(`${setup.url}/dead-letters/discard`),
            page.click("form.selection button[value=discard-selected]")
          ])
        )
        assert.strictEqual(yield* promise(() => page.textContent("#discard-count")), "1")
        yield* screenshot(page, "dead-letters-discard")
        assert.strictEqual(yield* promise(() => rowOf(ids[1]!).count()), 0, "nothing is discarded before confirming")
        yield* promise(() => Promise.all([page.waitForURL(/discarded=/), page.click("form.confirm button")]))
        assert.strictEqual(yield* promise(() => page.textContent(".flash")), "Discarded 1 dead letter(s).")
        yield* promise(() => page.goto(`${setup.url}/dead-letters?sink=http`))
        assert.strictEqual(yield* promise(() => rowOf(ids[0]!).count()), 0, "replayed")
        assert.strictEqual(yield* promise(() => rowOf(ids[1]!).count()), 0, "discarded")
        assert.strictEqual(yield* promise(() => rowOf(ids[2]!).count()), 1, "left alone")
        assert.lengthOf(setup.target.requests.slice(seen), 1, "a discarded dead letter is never delivered")

        const form = (token: string, fields: Record<string, string>) =>
          promise(() =>
            fetch(`${setup.url}/dead-letters/discard`, {
              method: "POST",
              headers: { authorization: `Bearer ${token}` },
              body: new URLSearchParams(fields),
              redirect: "manual"
            }).then(async (response) => ({ status: response.status, json: await response.json() as unknown }))
          )
        const everything = { sink: "http", topic: (fixture.json as { topic: string }).topic }
        assert.strictEqual((yield* form(READONLY, { ...everything, confirmed: "yes" })).status, 403)
        assert.deepInclude((yield* form(OPERATOR, everything)).json as object, { error: "not_confirmed" })
        assert.strictEqual(yield* promise(() => rowOf(ids[2]!).count()), 1, "still there")
      }))

    it.effect("refuses sign-ins from an address after 10 failures in a minute, even with the right token", () =>
      Effect.gen(function*() {
        const { url } = yield* ConsoleSetup
        const attempt = (token: string) =>
          postFrom("127.0.0.2", `${url}/login`, new URLSearchParams({ token }).toString())
        for (let n = 0; n < 10; n++) assert.strictEqual(yield* attempt("wrong-token-0123456789"), 401)
        assert.strictEqual(yield* attempt("wrong-token-0123456789"), 429)
        assert.strictEqual(yield* attempt(OPERATOR), 429)
        // Another address is not held back.
        assert.strictEqual(yield* postFrom("127.0.0.3", `${url}/login`, `token=${OPERATOR}`), 303)
      }))
  })
})
