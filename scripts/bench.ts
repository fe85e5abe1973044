/**
 * npm run bench: the service with its default settings (SINKS=file, durable, logging at info) side by side with what a
 * user would write instead: the same verify + parse + durable append on bare node:http (the floor), Fastify 5,
 * Express 5, and @effect/platform alone; driven by wrk with pre-signed requests, each with its own notification id,
 * in alternating rounds A B C D E A B C D E.
 * Options: --rounds N (default 5: one round moves by a quarter on a shared machine), --seconds S (per round, default
 * 8), --skip-rss (skip the 200,000 run).
 * --store postgres: instead, the receiver on SQLite against the receiver on PostgreSQL, one instance and two
 * (scripts/bench/stores.ts).
 * --sinks nats,rabbitmq,redis,mirror: instead, each broker sink or the mirror against SINKS=file, alternating
 * (scripts/bench/sinks.ts).
 * --drain: instead, how fast the outbox sinks deliver, end to end through the service and the brokers on 127.0.0.1
 * (scripts/bench/drain.ts): a 100,000 backlog drained by one instance, Intercom's peak (2,500/s for 60 s), and the
 * http target's recovery after an outage; options --parts drain,peak,recovery, --sinks nats,rabbitmq,redis,http,
 * --rounds N (3), --backlog N, --keys N (5,000), --order receive, --concurrency N, --peak-rate R, --peak-seconds S,
 * --outage-seconds S (60; the case is 300), --recovery-rate R, --cpu-prof; see drain.ts.
 * --console: instead, the operator console's page times on a store of 1,000,000 logged notifications
 * (scripts/bench/console.ts); options --rows N, --store sqlite|postgres, --rounds N.
 * --reconcile: instead, gap recovery's sweep over 10,000 changed contacts against the fake Intercom API
 * (scripts/bench/reconcile.ts); options --contacts N, --rounds N, --limit CALLS/SECONDS, --prism.
 */
import { execFile, execFileSync, execSync } from "node:child_process"
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { parseConsoleBench, runConsoleBench } from "./bench/console.js"
import { decodeCosts } from "./bench/decode.js"
import { parseDrain, runDrain } from "./bench/drain.js"
import { median } from "./bench/median.js"
import { parseReconcile, runReconcile } from "./bench/reconcile.js"
import { measuredCount, templatePath, warmCount, writeRequests } from "./bench/requests.js"
import { seededStore } from "./bench/seeded.js"
import { nodeFlags, peakRss, root, type Server, startServer } from "./bench/server.js"
import { compareSinks, parseSinks } from "./bench/sinks.js"
import { steady } from "./bench/steady.js"
import { compareStores } from "./bench/stores.js"

const args = process.argv.slice(2)
const option = (name: string, fallback: number) => {
  const at = args.indexOf(name)
  return at === -1 ? fallback : Number(args[at + 1])
}
const pairs = option("--rounds", 5)
const seconds = option("--seconds", 8)
const secret = "bench-secret"
const work = mkdtempSync(join(tmpdir(), "bench-"))
/** Ids in the store of the last steady runs: a day at about 2.3 notifications a second. */
const SEEDED_IDS = 200_000

const ensureWrk = () => {
  try {
    execSync("command -v wrk", { stdio: "ignore" })
  } catch {
    if (process.getuid?.() !== 0) throw new Error("wrk is not installed: sudo apt-get install wrk")
    console.error("installing wrk from Debian's packages ...")
    execSync("apt-get update -qq && apt-get install -y -qq wrk", { stdio: "inherit" })
  }
}

const kinds = ["floor", "fastify", "express", "platform", "receiver"] as const
type Kind = typeof kinds[number]
const labels: Record<Kind, string> = {
  floor: "floor (node:http)",
  fastify: "floor's work on Fastify 5",
  express: "floor's work on Express 5",
  platform: "floor's work on @effect/platform",
  receiver: "this service, SINKS=file, defaults"
}
const scripts: Record<Kind, string> = {
  floor: "scripts/bench/floor.mjs",
  fastify: "scripts/bench/fastify-floor.mjs",
  express: "scripts/bench/express-floor.mjs",
  platform: "scripts/bench/platform-floor.mjs",
  receiver: "dist/bundle/main.mjs"
}
const ports: Record<Kind, number> = {
  floor: 18_181,
  fastify: 18_186,
  express: 18_187,
  platform: 18_185,
  receiver: 18_182
}

const start = (kind: Kind, port: number, sinks = "file", env: Record<string, string> = {}): Promise<Server> =>
  startServer({ script: scripts[kind], port, flags: kind === "receiver" ? nodeFlags : [], work, secret, sinks, env })

interface Round {
  readonly reqPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly rssMb: number
  readonly non2xx: number
}

const wrkArgs = (url: string, file: string, duration: number, limit: number, connections: number) =>
  [
    "wrk",
    ["-t1", `-c${connections}`, `-d${duration}s`, "-s", join(root, "scripts/bench/requests.lua"), url],
    {
      env: { ...process.env, REQUESTS_FILE: file, LIMIT: String(limit) },
      encoding: "utf8",
      maxBuffer: 1 << 24
    }
  ] as const

const summarize = (output: string): Round & { requests: number } => {
  const summary = JSON.parse(output.trim().split("\n").pop()!)
  return {
    requests: summary.requests,
    reqPerSec: summary.requests / (summary.duration_us / 1e6),
    p50Ms: summary.p50_us / 1000,
    p99Ms: summary.p99_us / 1000,
    rssMb: 0,
    non2xx: summary.non2xx + summary.errors
  }
}

const wrk = (url: string, file: string, duration: number, limit = 1e12, connections = 32) =>
  summarize(execFileSync(...wrkArgs(url, file, duration, limit, connections)))

/** wrk without blocking, to drive several servers at once. */
const wrkAsync = (url: string, file: string, duration: number, connections = 32) =>
  promisify(execFile)(...wrkArgs(url, file, duration, 1e12, connections)).then(({ stdout }) => summarize(stdout))

const round = async (kind: Kind, file: string, warm: string, duration: number, sinks?: string) => {
  const server = await start(kind, ports[kind], sinks)
  wrk(server.url, warm, 2)
  const result = wrk(server.url, file, duration)
  const rssMb = peakRss(server.pid)
  await server.stop()
  return { ...result, rssMb }
}

const fmt = (value: number, digits = 0) => value.toFixed(digits)

/** The bench only means something if the service takes its notification as real traffic: accepted, schema matched. */
const checkAccepted = async (file: string) => {
  const [signature, body] = readFileSync(file, "utf8").split("\n")[0]!.split("\t") as [string, string]
  const server = await start("receiver", ports.receiver)
  const answer = await fetch(`${server.url}/webhooks/intercom`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-hub-signature": signature },
    body
  }).then((response) => response.json() as Promise<Record<string, unknown>>)
  await server.stop()
  const matched = answer.status === "accepted" && answer.schema === undefined
  console.error(
    `bench notification: ${templatePath}, ${Buffer.byteLength(body)} B, answered ${JSON.stringify(answer.status)}` +
      (matched ? ", schema matched" : `, schema ${JSON.stringify(answer.schema)}: ${JSON.stringify(answer)}`)
  )
  if (!matched) throw new Error("the bench notification is not accepted as matching its schema; fix that first")
}

const main = async () => {
  if (args.includes("--console")) {
    try {
      const options = parseConsoleBench(args.filter((arg) => arg !== "--console"))
      console.error("building ...")
      execSync("npm run --silent build", { cwd: root, stdio: "inherit" })
      await runConsoleBench(work, options)
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
    return
  }
  if (args.includes("--reconcile")) {
    await runReconcile(parseReconcile(args.filter((arg) => arg !== "--reconcile")))
    rmSync(work, { recursive: true, force: true })
    return
  }
  if (args.includes("--drain")) {
    try {
      // Read before the build, so that a mistyped option fails at once.
      const options = parseDrain(args.filter((arg) => arg !== "--drain"))
      console.error("building ...")
      execSync("npm run --silent build", { cwd: root, stdio: "inherit" })
      await runDrain(work, secret, options)
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
    return
  }
  ensureWrk()
  console.error("building ...")
  execSync("npm run --silent build", { cwd: root, stdio: "inherit" })
  if (args.includes("--store")) {
    const at = args.indexOf("--store")
    if (args[at + 1] !== "postgres") throw new Error("--store takes postgres")
    await compareStores({ work, secret, pairs, seconds, start, wrkAsync })
    rmSync(work, { recursive: true, force: true })
    return
  }
  if (args.includes("--sinks")) {
    await compareSinks({ work, secret, pairs, seconds, start, wrkAsync }, parseSinks(args[args.indexOf("--sinks") + 1]))
    rmSync(work, { recursive: true, force: true })
    return
  }
  const sizes = [{ name: "2.8 KB", size: 0 }, { name: "300 KB", size: 300_000 }]
  const rows: Array<string> = []
  // Each row is printed as soon as it is measured too: a failure later in the run keeps what was measured.
  const addRow = (row: string) => {
    rows.push(row)
    console.error(row)
  }
  let smallRate = 1000
  for (const { name, size } of sizes) {
    const file = join(work, `requests-${size}.txt`)
    const warm = join(work, `warm-${size}.txt`)
    const duration = size > 10_000 ? Math.max(3, Math.floor(seconds / 2)) : seconds
    const bytes = writeRequests(file, size, measuredCount(size, duration), secret)
    if (size === 0) await checkAccepted(file)
    writeRequests(warm, size, warmCount(size), secret, "warm")
    const results: Record<Kind, Array<Round>> = { floor: [], fastify: [], express: [], platform: [], receiver: [] }
    for (let pair = 0; pair < pairs; pair++) {
      for (const kind of kinds) {
        results[kind].push(await round(kind, file, warm, duration))
      }
      const floor = results.floor[pair]!.reqPerSec
      console.error(
        `${name} round ${pair + 1}: ` +
          kinds.map((kind) =>
            `${kind} ${fmt(results[kind][pair]!.reqPerSec)} (${fmt(results[kind][pair]!.reqPerSec / floor, 2)})`
          )
            .join(", ")
      )
    }
    const ratio = (kind: Kind) => median(results[kind].map((r, index) => r.reqPerSec / results.floor[index]!.reqPerSec))
    if (size < 10_000) smallRate = median(results.receiver.map((r) => r.reqPerSec))
    for (const kind of kinds) {
      const runs = results[kind]
      addRow(
        `| ${name} (${bytes} B) | ${labels[kind]} | ${runs.map((r) => fmt(r.reqPerSec)).join(" / ")} | ${
          fmt(median(runs.map((r) => r.reqPerSec)))
        } | ${fmt(median(runs.map((r) => r.p50Ms)), 1)} | ${fmt(median(runs.map((r) => r.p99Ms)), 1)} | ${
          fmt(Math.max(...runs.map((r) => r.rssMb)))
        } | ${fmt(ratio(kind), 2)} |`
      )
    }
    // The target's own comparison: the service against Express in the same round, steadier than either against the
    // floor when the machine's load moves between rounds.
    const againstExpress = results.receiver.map((r, index) => r.reqPerSec / results.express[index]!.reqPerSec)
    addRow(
      `| ${name} | this service / Express 5, same round | ${
        againstExpress.map((r) => fmt(r, 2)).join(" / ")
      } | - | - | - | - | ${fmt(median(againstExpress), 2)} of Express |`
    )
    if (size < 10_000) {
      // The outbox path against the service's own SINKS=file figure, alternating.
      const outbox: Array<Round> = []
      const file_: Array<Round> = []
      for (let pair = 0; pair < pairs; pair++) {
        outbox.push(await round("receiver", file, warm, duration, "http"))
        file_.push(await round("receiver", file, warm, duration))
      }
      const outboxRatio = median(outbox.map((r, index) => r.reqPerSec / file_[index]!.reqPerSec))
      addRow(
        `| ${name} (${bytes} B) | this service, SINKS=http (outbox) | ${
          outbox.map((r) => fmt(r.reqPerSec)).join(" / ")
        } | ${fmt(median(outbox.map((r) => r.reqPerSec)))} | ${fmt(median(outbox.map((r) => r.p50Ms)), 1)} | ${
          fmt(median(outbox.map((r) => r.p99Ms)), 1)
        } | ${fmt(Math.max(...outbox.map((r) => r.rssMb)))} | ${fmt(outboxRatio, 2)} of SINKS=file |`
      )

      // Five runs: the p99 target must hold in every one of them.
      for (let run = 1; run <= 5; run++) {
        const server = await start("receiver", 18_183)
        wrk(server.url, warm, 2)
        const paced = await steady(`${server.url}/webhooks/intercom`, file, 1000, 10)
        await server.stop()
        addRow(
          `| ${name} | this service at a steady 1,000 req/s for 10 s, run ${run} of 5 | ${paced.requests} sent, ${paced.failures} failed | - | ${
            fmt(paced.p50_us / 1000, 1)
          } | ${fmt(paced.p99_us / 1000, 1)} | - | - |`
        )
      }
      // The same on a store that already holds a day of ids: what a service that has run for a while pays.
      const seeded = await seededStore(work, SEEDED_IDS, (env) => start("receiver", 18_183, "file", env))
      for (let run = 1; run <= 3; run++) {
        const store = join(work, `seeded-${run}.db`)
        copyFileSync(seeded, store)
        const server = await start("receiver", 18_183, "file", { STORE_PATH: store })
        wrk(server.url, warm, 2)
        const paced = await steady(`${server.url}/webhooks/intercom`, file, 1000, 10)
        await server.stop()
        addRow(
          `| ${name} | the same on a store holding ${SEEDED_IDS} ids, run ${run} of 3 | ${paced.requests} sent, ${paced.failures} failed | - | ${
            fmt(paced.p50_us / 1000, 1)
          } | ${fmt(paced.p99_us / 1000, 1)} | - | - |`
        )
      }
    }
  }
  if (!args.includes("--skip-rss")) {
    const file = join(work, "requests-200k.txt")
    writeRequests(file, 0, 200_000, secret, "rss")
    const server = await start("receiver", 18_184)
    // wrk stops sending at the limit but runs out its duration: give it about what 200,000 take, plus a margin.
    const run = wrk(server.url, file, Math.min(1200, Math.ceil((200_000 / smallRate) * 1.3) + 5), 200_000)
    addRow(
      `| 2.8 KB | receiver after ${run.requests} notifications | - | - | - | - | ${fmt(peakRss(server.pid))} | - |`
    )
    await server.stop()
  }
  const decode = decodeCosts()
  console.log(
    `Machine: ${execSync("nproc").toString().trim()} cores, Node ${process.version}; ${
      new Date().toISOString().slice(0, 10)
    }`
  )
  console.log("")
  console.log(
    "| notification | server | req/s per round | median req/s | p50 ms | p99 ms | peak RSS MB | ratio to floor |"
  )
  console.log("|---|---|---|---|---|---|---|---|")
  for (const row of rows) console.log(row)
  console.log("")
  console.log("| notification | JSON.parse µs | JSON.parse + generated schema µs | schema alone µs |")
  console.log("|---|---|---|---|")
  for (const cost of decode) {
    console.log(
      `| ${cost.bytes} B | ${fmt(cost.parseUs, 1)} | ${fmt(cost.parseAndDecodeUs, 1)} | ${fmt(cost.decodeUs, 1)} |`
    )
  }
  rmSync(work, { recursive: true, force: true })
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
