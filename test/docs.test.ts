/**
 * The README and docs/ against the code: every block marked runnable runs and exits 0, every relative link and anchor
 * resolves, every setting is documented, and the handler example is the code in src/examples (docs/testing.md).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, relative, resolve } from "node:path"

const root = new URL("..", import.meta.url).pathname

/** README.md, then docs/*.md by name: the order a reader meets them, and the order their blocks run. */
const documents = [
  "README.md",
  ...readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`)
]
const read = (path: string) => readFileSync(join(root, path), "utf8")

interface Block {
  readonly file: string
  readonly line: number
  readonly info: string
  readonly code: string
}

/** The fenced code blocks of a Markdown text, with their info strings (`sh runnable`). */
const blocks = (file: string, text: string): ReadonlyArray<Block> => {
  const found: Array<Block> = []
  let open: { fence: string; info: string; line: number; lines: Array<string> } | undefined
  text.split("\n").forEach((line, index) => {
    const fence = /^(`{3,}|~{3,})(.*)$/.exec(line)
    if (open === undefined) {
      if (fence) open = { fence: fence[1]!, info: fence[2]!.trim(), line: index + 1, lines: [] }
    } else if (fence && fence[1]!.startsWith(open.fence) && fence[2]!.trim() === "") {
      found.push({ file, line: open.line, info: open.info, code: open.lines.join("\n") })
      open = undefined
    } else open.lines.push(line)
  })
  return found
}

/** The text outside fenced blocks and inline code, where links are links. */
const prose = (text: string) => text.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\s*$/gm, "").replace(/`+[^`\n]*`+/g, "")

/** GitHub's anchor of a heading: its text in lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading: string) =>
  heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/`/g, "")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-")

/** Every anchor of a Markdown file; a repeated heading gets `-1`, `-2`, ... as on GitHub. */
const anchors = (text: string): ReadonlySet<string> => {
  const seen = new Map<string, number>()
  const found = new Set<string>()
  for (const match of prose(text).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(match[1]!)
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    found.add(count === 0 ? base : `${base}-${count}`)
  }
  return found
}

/** Where `target` (a relative path, `#anchor`, or both) from `file` leads, or why it leads nowhere. */
const broken = (file: string, target: string): string | undefined => {
  const [path, anchor] = target.split("#", 2) as [string, string | undefined]
  const resolved = path === "" ? join(root, file) : resolve(dirname(join(root, file)), decodeURIComponent(path))
  if (!existsSync(resolved)) return `${target}: no file ${relative(root, resolved)}`
  if (anchor === undefined || anchor === "") return undefined
  if (!resolved.endsWith(".md") || statSync(resolved).isDirectory()) {
    return `${target}: an anchor into a non-Markdown file`
  }
  return anchors(readFileSync(resolved, "utf8")).has(anchor) ? undefined : `${target}: no heading #${anchor}`
}

/** Files of `dir`, recursively. */
const filesUnder = (dir: string): ReadonlyArray<string> =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]
  )

/** The settings the service reads: the upper-case names in quotes in its configuration code. */
const settings = (): ReadonlyArray<string> => {
  const notSettings = new Set(["INTERCOM", "SIGINT", "SIGTERM"])
  const sources = ["src/Launcher.ts", ...filesUnder("src/config")].map(read).join("\n")
  return [...new Set([...sources.matchAll(/"([A-Z][A-Z0-9_]{2,})"/g)].map((match) => match[1]!))]
    .filter((name) => !notSettings.has(name))
    .sort()
}

/** A TypeScript text without its comments and blank lines. */
const codeOnly = (text: string) =>
  text.replace(/\/\*[\s\S]*?\*\//g, "").split("\n").map((line) => line.trimEnd()).filter((line) => line !== "").join(
    "\n"
  )

interface Ran {
  readonly code: number | null
  readonly output: string
}

const runBlock = (code: string, cwd: string, env: NodeJS.ProcessEnv) =>
  Effect.promise(() =>
    new Promise<Ran>((done) => {
      const child = spawn("bash", ["-euo", "pipefail", "-c", code], { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
      let output = ""
      child.stdout.on("data", (chunk: Buffer) => output += chunk.toString())
      child.stderr.on("data", (chunk: Buffer) => output += chunk.toString())
      const timer = setTimeout(() => child.kill("SIGKILL"), 90_000)
      child.once("close", (exit) => {
        clearTimeout(timer)
        done({ code: exit, output })
      })
    })
  )

/**
 * A scratch folder standing for a checkout (links to the repository's files, a `data` folder of its own), with the
 * service running in it on its default configuration plus the mirror, as a reader of the README starts it.
 */
const scratchService = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ cwd: string; port: string; service: ChildProcess }>((started, failed) => {
      const cwd = mkdtempSync(join(tmpdir(), "docs-"))
      for (
        const name of ["package.json", "node_modules", "scripts", "src", "schemas", "tsconfig.json", "dprint.json"]
      ) symlinkSync(join(root, name), join(cwd, name))
      const service = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
        cwd,
        env: { ...userEnv, HOST: "127.0.0.1", PORT: "0", SINKS: "console,file,mirror", LOG_FORMAT: "json" },
        stdio: ["ignore", "ignore", "pipe"]
      })
      let stderr = ""
      service.stderr!.on("data", (chunk: Buffer) => {
        stderr += chunk.toString()
        const listening = /Listening on http:\/\/[\d.]+:(\d+)/.exec(stderr)
        if (listening) started({ cwd, port: listening[1]!, service })
      })
      service.once("exit", (code) => failed(new Error(`the service exited (${code}) before listening:\n${stderr}`)))
    })
  ),
  ({ cwd, service }) =>
    Effect.promise(async () => {
      if (service.exitCode === null && service.signalCode === null) {
        const exited = new Promise((done) => service.once("exit", done))
        service.kill("SIGTERM")
        await exited
      }
      rmSync(cwd, { recursive: true, force: true })
    })
)

/** The environment of a reader's shell: none of the settings of whoever runs the tests, the secret of the README. */
const userEnv: NodeJS.ProcessEnv = {
  ...Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !settings().includes(key) && key !== "CONFIG_FILE")
  ),
  INTERCOM_CLIENT_SECRET: "your-client-secret"
}

describe("documentation", () => {
  const all = documents.flatMap((file) => blocks(file, read(file)))
  const runnable = all.filter((block) => block.info === "sh runnable")

  it("the README keeps the commands CI and a newcomer rely on", () => {
    const readme = read("README.md")
    assert.include(readme, "npm test", ".ci/run greps README.md for it")
    assert.include(readme, "npm start")
    assert.isBelow(readme.split("\n").length, 400, "the README is a front door, not a log")
    assert.includeMembers(runnable.filter((block) => block.file === "README.md").map((block) => block.code.trim()), [
      "INTERCOM_CLIENT_SECRET=your-client-secret npm run send -- contact.user.created",
      "tail -n 1 data/events.jsonl",
      "npm run replay -- --list"
    ])
  })

  it("every relative link and anchor in README.md and docs/ resolves, and so does every docs/ link in src/", () => {
    const problems: Array<string> = []
    let checked = 0
    for (const file of documents) {
      for (const match of prose(read(file)).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = match[1]!
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:
        checked++
        const problem = broken(file, target)
        if (problem !== undefined) problems.push(`${file}: ${problem}`)
      }
    }
    for (const file of filesUnder("src").filter((path) => path.endsWith(".ts"))) {
      for (const match of read(file).matchAll(/docs\/[\w-]+\.md(?:#[\w-]+)?/g)) {
        checked++
        const problem = broken("README.md", match[0])
        if (problem !== undefined) problems.push(`${file}: ${problem}`)
      }
    }
    assert.deepStrictEqual(problems, [])
    assert.isAbove(checked, 50, "links were found")
  })

  it("anchors are GitHub's", () => {
    assert.strictEqual(
      slug("Brokers (NATS JetStream, RabbitMQ, Redis Streams)"),
      "brokers-nats-jetstream-rabbitmq-redis-streams"
    )
    assert.strictEqual(
      slug("In-flight responses: a linked list, not a Set"),
      "in-flight-responses-a-linked-list-not-a-set"
    )
    assert.strictEqual(
      slug("The webhook POST served outside HttpServer.serve"),
      "the-webhook-post-served-outside-httpserverserve"
    )
    assert.strictEqual(slug("`GET /metrics` and `npm_run`"), "get-metrics-and-npm_run")
    assert.deepStrictEqual([...anchors("# A\n## A\n```sh\n# not a heading\n```\n### A b")], ["a", "a-1", "a-b"])
  })

  it("every setting the service reads is in the README's table and in docs/configuration.md", () => {
    const readme = read("README.md")
    const table = readme.slice(
      readme.indexOf("## Configuration"),
      readme.indexOf("\n## ", readme.indexOf("## Configuration") + 1)
    )
    const reference = read("docs/configuration.md")
    const names = settings()
    assert.isAbove(names.length, 40)
    assert.deepStrictEqual(names.filter((name) => !table.includes(`\`${name}\``)), [], "missing from the README")
    assert.deepStrictEqual(names.filter((name) => !reference.includes(`\`${name}\``)), [], "missing from the reference")
  })

  it("the typed-handler example of docs/sinks.md is the code of src/examples", () => {
    const examples = readdirSync(join(root, "src/examples")).map((name) => codeOnly(read(`src/examples/${name}`)))
    const shown = blocks("docs/sinks.md", read("docs/sinks.md")).filter((block) => block.info === "ts")
    assert.strictEqual(shown.length, 2)
    for (const block of shown) assert.include(examples, codeOnly(block.code), `docs/sinks.md:${block.line}`)
  })

  it.scopedLive(
    "every block marked runnable runs, in order, beside a service started as the README starts it",
    () =>
      Effect.gen(function*() {
        assert.isAtLeast(runnable.length, 6)
        const { cwd, port } = yield* scratchService
        const env = { ...userEnv, PORT: port }
        for (const block of runnable) {
          const ran = yield* runBlock(block.code, cwd, env)
          assert.strictEqual(ran.code, 0, `${block.file}:${block.line}\n${block.code}\n---\n${ran.output}`)
        }
        assert.include(readFileSync(join(cwd, "data/events.jsonl"), "utf8"), "\"topic\":\"contacts.created\"")
      }),
    240_000
  )
})
