import { Effect, type Scope } from "effect"
import { existsSync } from "node:fs"
import { type Browser, chromium } from "playwright-core"

/** Debian's Chromium (`apt-get install chromium`); playwright-core downloads no browser of its own. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"

/**
 * Whether the browser suites can run: without Chromium they are skipped with a message saying so, and with
 * `REQUIRE_SERVICES=1` (set by `.ci/run`) they fail instead, as suites needing a service do (see `Services.ts`).
 */
export const requireChromium = (): boolean => {
  if (existsSync(CHROMIUM)) return true
  const message = `Chromium is not installed at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`
  if (process.env.REQUIRE_SERVICES === "1") {
    throw new Error(`${message}; REQUIRE_SERVICES=1 turns this skip into a failure (see docs/testing.md, Services)`)
  }
  console.warn(`skipping the browser suite: ${message}`)
  return false
}

/** A headless Chromium, closed with the scope. `--no-sandbox`: the tests run as root in a container. */
export const launchBrowser: Effect.Effect<Browser, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() => chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] })),
  (browser) => Effect.promise(() => browser.close())
)
