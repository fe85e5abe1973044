import { assert } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { sign } from "../../src/pipeline/Signature.js"
import { launchBrowser } from "./Browser.js"
import { type Captured, startTarget } from "./Target.js"
import { SECRET } from "./TestServer.js"

/** The browser suites' service, target and browser: the console's tests share them. */

const root = new URL("../..", import.meta.url).pathname
export const shots = join(root, "test-results/console")
export const OPERATOR = "operator-token-0123456789abcdef"
export const READONLY = "readonly-token-0123456789abcdef"
/** The HTTP sink's target URL holds it: its errors are shown on the console's pages, never it. */
export const FORWARD_PASSWORD = "hunter2-forward-password"
export const SECRETS = [OPERATOR, READONLY, FORWARD_PASSWORD, SECRET]

export const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

interface Running {
  readonly webhookUrl: string
  /** The console's origin; undefined when it is off. */
  readonly consoleUrl: string | undefined
  readonly stderr: () => string
}

/** The service (`src/main.ts`) as its own process, until it listens (and its console, unless `console: "off"`). */
export const spawnConsole = (env: Record<string, string>, console: "on" | "off" = "on") =>
  Effect.acquireRelease(
    promise(() =>
      new Promise<Running & { readonly child: ChildProcess; readonly exited: Promise<unknown> }>((resolve, reject) => {
        const inherited = Object.fromEntries(
          Object.entries(process.env).filter(([name]) => !name.startsWith("CONSOLE_"))
        )
        const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
          cwd: root,
          env: {
            ...inherited,
            HOST: "127.0.0.1",
            PORT: "0",
            INTERCOM_CLIENT_SECRET: SECRET,
            LOG_FORMAT: "json",
            ...env
          },
          stdio: ["ignore", "ignore", "pipe"]
        })
        let stderr = ""
        const exited = new Promise((done) => child.once("exit", done))
        child.stderr!.on("data", (chunk: Buffer) => {
          stderr += chunk.toString()
          const webhook = /Listening on (http:\/\/[\d.]+:\d+)/.exec(stderr)
          const listening = /console listening on (http:\/\/[\d.]+:\d+)/.exec(stderr)
          const off = stderr.includes("console off: CONSOLE_TOKEN is not set")
          if (webhook !== null && (console === "on" ? listening !== null : off)) {
            resolve({
              webhookUrl: `${webhook[1]}/webhooks/intercom`,
              consoleUrl: listening?.[1],
              stderr: () => stderr,
              child,
              exited
            })
          }
        })
        void exited.then((code) => reject(new Error(`the service exited (${code}) before listening:\n${stderr}`)))
      })
    ),
    ({ child, exited }) =>
      promise(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
        await exited
      })
  )

/** A port nothing listens on right now. */
export const freePort = promise(() =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
)

/** A data directory removed with the scope. */
export const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    promise(() => mkdtemp(join(tmpdir(), prefix))),
    (dir) => promise(() => rm(dir, { recursive: true, force: true }))
  )

/**
 * The service with its console on (both tokens), an HTTP target answering what the test says (400 at first) reached
 * through a URL with a password, and a browser.
 */
export class ConsoleSetup extends Context.Tag("ConsoleSetup")<ConsoleSetup, {
  readonly url: string
  readonly webhookUrl: string
  /** `status`: what the target answers now. */
  readonly target: { readonly requests: ReadonlyArray<Captured>; status: number }
  readonly browser: Browser
  readonly stderr: () => string
}>() {
  /** `sinks`: the service's `SINKS`, `http` among them; `env`: more settings. */
  static readonly layer = (sinks: string, env: Record<string, string> = {}) =>
    Layer.scoped(
      ConsoleSetup,
      Effect.gen(function*() {
        const dataDir = yield* tempDir("console-")
        const control = { status: 400 }
        const target = yield* startTarget(() => control.status)
        const forward = new URL(target.url)
        forward.username = "console"
        forward.password = FORWARD_PASSWORD
        const service = yield* spawnConsole({
          DATA_DIR: dataDir,
          SINKS: sinks,
          HTTP_FORWARD_URL: forward.href,
          CONSOLE_TOKEN: OPERATOR,
          CONSOLE_READONLY_TOKEN: READONLY,
          CONSOLE_PORT: "0",
          RETRY_BASE_DELAY: "50ms",
          RETRY_MAX_DELAY: "200ms",
          PROBE_INTERVAL: "200ms",
          ...env
        })
        const browser = yield* launchBrowser
        mkdirSync(shots, { recursive: true })
        return {
          url: service.consoleUrl!,
          webhookUrl: service.webhookUrl,
          target: Object.assign(control, { requests: target.requests }),
          browser,
          stderr: service.stderr
        }
      })
    )
}

/** A notification to the service's webhook, signed with the service's secret unless `signature` is given. */
export const post = (webhookUrl: string, body: Buffer, signature = sign(SECRET, body)) =>
  promise(() =>
    fetch(webhookUrl, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature": signature },
      body
    }).then((response) => response.status)
  )

/** A fresh browser context (no cookie) and a page in it, closed with the scope. */
export const freshPage = Effect.gen(function*() {
  const { browser } = yield* ConsoleSetup
  const context = yield* Effect.acquireRelease(
    promise(() => browser.newContext()),
    (context) => promise(() => context.close())
  )
  return { context, page: yield* promise(() => context.newPage()) }
})

/** A fresh browser context signed in with `token`, on the overview. */
export const signIn = (token: string) =>
  Effect.gen(function*() {
    const { url } = yield* ConsoleSetup
    const { context, page } = yield* freshPage
    yield* promise(async () => {
      await page.goto(`${url}/login`)
      await page.fill("input[name=token]", token)
      await Promise.all([page.waitForURL(`${url}/`), page.click("button[type=submit]")])
    })
    return { context, page }
  })

/** The page's HTML holds no token, secret or session id. */
export const assertNoSecret = (html: string, context?: BrowserContext) =>
  Effect.gen(function*() {
    const cookies = context === undefined ? [] : yield* promise(() => context.cookies())
    for (const secret of [...SECRETS, ...cookies.map((cookie) => cookie.value)]) {
      assert.notInclude(html, secret, "a secret is on the page")
    }
  })

/** The window, or the whole page (`true`), or the page's first `height` pixels. */
export const screenshot = (page: Page, name: string, whole: boolean | number = false) =>
  promise(() =>
    page.screenshot({
      path: join(shots, `${name}.png`),
      fullPage: whole !== false,
      ...(typeof whole === "number" ? { clip: { x: 0, y: 0, width: page.viewportSize()!.width, height: whole } } : {})
    })
  )
