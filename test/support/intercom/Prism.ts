import { type ChildProcess, spawn } from "node:child_process"
import { createRequire } from "node:module"
import { createServer } from "node:net"
import { dirname, join } from "node:path"

/**
 * Stoplight Prism as a validating proxy (`prism proxy <spec> <upstream> --errors`) in its own process group.
 *
 * What Prism 5.16 does with an answer from the upstream:
 * - it matches the declared schema: passed through unchanged, no `sl-violations` header;
 * - it breaks the schema (a wrong type, a missing required field, a value outside an enum): replaced by
 *   `500` with `Content-Type: application/problem+json`, body `{"type":"https://stoplight.io/prism/errors#VIOLATIONS",
 *   "title":"Request/Response not valid","status":500,"validation":[...]}` and the same list, as JSON, in the
 *   `sl-violations` header, each entry `{location, severity: "Error", code, message}`;
 * - its status is not declared for the operation (e.g. 404 on `GET /contacts/{id}` or any 429 in the 2.14
 *   description): passed through with its status and body, and an `sl-violations` entry of severity "Warning",
 *   "Unable to match the returned status code with those defined in the document: 200,401";
 * - a request without a bearer token never reaches the upstream: Prism answers `401` problem+json
 *   (`.../errors#UNAUTHORIZED`) itself;
 * - request bodies are checked only in part: `POST /contacts` with `{"name":5}` got `422` from Prism, but a
 *   `/contacts/search` body without `query` was forwarded unchecked. Do not count on Prism to check the client.
 *
 * Prism skips validation silently when it cannot compile a response schema: see `SPEC_DEFECTS` in Spec.ts.
 */

export interface Violation {
  readonly location: ReadonlyArray<string>
  readonly severity: string
  readonly code?: string | number
  readonly message: string
}

export interface Exchange {
  readonly method: string
  readonly url: string
  readonly status: number
  readonly violations: ReadonlyArray<Violation>
}

export interface Prism {
  readonly url: string
  /** A `fetch` for clients (the SDK's `fetch` option) that records every answer and its `sl-violations`. */
  readonly fetch: typeof fetch
  readonly exchanges: Array<Exchange>
  /** Prism's console output so far, for failure messages. */
  readonly output: () => string
  readonly close: () => Promise<void>
}

export const VIOLATIONS_TYPE = "https://stoplight.io/prism/errors#VIOLATIONS"

const prismBin = () => {
  const require = createRequire(import.meta.url)
  const manifest = require.resolve("@stoplight/prism-cli/package.json")
  const { bin } = require("@stoplight/prism-cli/package.json") as { bin: { prism: string } }
  return join(dirname(manifest), bin.prism)
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      probe.close(() => resolve(port))
    })
  })

export const parseViolations = (header: string | null): ReadonlyArray<Violation> =>
  header === null ? [] : JSON.parse(header) as ReadonlyArray<Violation>

const killGroup = (child: ChildProcess, signal: NodeJS.Signals) => {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // the group is already gone
  }
}

const READY = /Prism is listening on (http:\/\/\S+)/

const launch = (spec: string, upstream: string, port: number, readyWithin: number) =>
  new Promise<{ child: ChildProcess; url: string; output: () => string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [prismBin(), "proxy", spec, upstream, "--errors", "--port", String(port), "--host", "127.0.0.1"],
      {
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", SCARF_ANALYTICS: "false" }
      }
    )
    let text = ""
    const output = () => text
    const fail = (why: string) => {
      clearTimeout(timer)
      killGroup(child, "SIGKILL")
      reject(new Error(`${why}\n${text.slice(-4000)}`))
    }
    const timer = setTimeout(() => fail(`Prism was not listening within ${readyWithin} ms`), readyWithin)
    const onData = (chunk: Buffer) => {
      text += chunk.toString("utf8")
      const ready = READY.exec(text)
      if (ready?.[1] !== undefined) {
        clearTimeout(timer)
        child.off("exit", onExit)
        resolve({ child, url: ready[1], output })
      }
    }
    const onExit = (code: number | null, signal: string | null) =>
      fail(`Prism exited (${code ?? signal}) before listening`)
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    child.once("exit", onExit)
  })

/** Starts Prism in front of `upstream`; retries on another port if the chosen one was taken meanwhile. */
export const startPrism = async (
  options: { readonly upstream: string; readonly spec: string; readonly readyWithin?: number }
): Promise<Prism> => {
  const spec = options.spec
  let launched: Awaited<ReturnType<typeof launch>> | undefined
  for (let attempt = 1; launched === undefined; attempt++) {
    try {
      launched = await launch(spec, options.upstream, await freePort(), options.readyWithin ?? 30_000)
    } catch (error) {
      if (attempt >= 3 || !String(error).includes("EADDRINUSE")) throw error
    }
  }
  const { child, url, output } = launched
  const killOnExit = () => killGroup(child, "SIGKILL")
  process.once("exit", killOnExit)
  const exchanges: Array<Exchange> = []
  const recordingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init)
    exchanges.push({
      method: init?.method ?? (input instanceof Request ? input.method : "GET"),
      url: input instanceof Request ? input.url : String(input),
      status: response.status,
      violations: parseViolations(response.headers.get("sl-violations"))
    })
    return response
  }
  const close = async () => {
    process.off("exit", killOnExit)
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    killGroup(child, "SIGTERM")
    const timer = setTimeout(() => killGroup(child, "SIGKILL"), 3_000)
    await exited
    clearTimeout(timer)
  }
  return { url, fetch: recordingFetch, exchanges, output, close }
}
