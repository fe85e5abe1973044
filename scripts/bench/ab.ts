/**
 * Before/after of one change, in one session: alternating rounds of several server scripts (bundles of the service
 * saved with `cp dist/bundle/main.mjs dist/ab/<name>.mjs`, or the floors), each on a fresh data folder, driven by wrk
 * like `npm run bench`. Prints req/s, p99 and the server's CPU time per request (utime + stime from /proc) per round,
 * then medians and each one's ratio to the first.
 * Usage: npx tsx scripts/bench/ab.ts [--rounds N] [--seconds S] [--warm S] [--size BYTES] [--sinks file] name=path[+VAR=value] ...
 * (`+VAR=value` adds to the server's environment, e.g. `quiet=dist/ab/base.mjs+LOG_LEVEL=none`; `+NODE_FLAGS=...`
 * replaces the V8 flags of `npm start`, spaces written as commas; `+STORE_URL=fresh` gives each run a fresh PostgreSQL
 * database of PG_BENCH_URL's server, dropped after it).
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { takeOption } from "./args.js"
import { median } from "./median.js"
import { measuredCount, warmCount, writeRequests } from "./requests.js"
import { flagsOf, peakRss, root, serverSpecs, startServer } from "./server.js"

const args = process.argv.slice(2)
const option = (name: string, fallback: string) => takeOption(args, name, fallback)
const rounds = Number(option("--rounds", "4"))
const seconds = Number(option("--seconds", "6"))
const size = Number(option("--size", "0"))
const warmSeconds = Number(option("--warm", "2"))
const sinks = option("--sinks", "file")
const servers = serverSpecs(args)
const secret = "bench-secret"
const work = mkdtempSync(join(tmpdir(), "ab-"))

const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}

const admin = process.env.PG_BENCH_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const adminQuery = async (sql: string) => {
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  await client.query(sql).finally(() => client.end())
}
let databases = 0

/** Runs `work` with `STORE_URL=fresh` replaced by the URL of a database of its own. */
const withStore = async <A>(extra: Record<string, string>, work: (env: Record<string, string>) => Promise<A>) => {
  if (extra.STORE_URL !== "fresh") return work(extra)
  const name = `ab_${process.pid}_${databases++}`
  await adminQuery(`CREATE DATABASE ${name}`)
  try {
    return await work({ ...extra, STORE_URL: Object.assign(new URL(admin), { pathname: `/${name}` }).toString() })
  } finally {
    await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  }
}

const run = (path: string, extra: Record<string, string>, file: string, warm: string) =>
  withStore(extra, (env) => measure(path, env, file, warm))

const measure = async (path: string, extra: Record<string, string>, file: string, warm: string) => {
  const flags = flagsOf(extra)
  const { pid, stop, url } = await startServer({ script: path, port: 18_190, flags, work, secret, sinks, env: extra })
  const wrk = (requests: string, duration: number) =>
    JSON.parse(
      execFileSync(
        "wrk",
        ["-t1", "-c32", `-d${duration}s`, "-s", join(root, "scripts/bench/requests.lua"), url],
        { env: { ...process.env, REQUESTS_FILE: requests, LIMIT: "1e12" }, encoding: "utf8", maxBuffer: 1 << 24 }
      ).trim().split("\n").pop()!
    )
  wrk(warm, warmSeconds)
  const before = cpuMs(pid)
  const summary = wrk(file, seconds)
  const cpu = cpuMs(pid) - before
  const rssMb = peakRss(pid)
  await stop()
  return {
    rssMb,
    rate: summary.requests / (summary.duration_us / 1e6),
    p99: summary.p99_us / 1000,
    cpuUs: (cpu * 1000) / summary.requests,
    bad: summary.non2xx + summary.errors
  }
}

const main = async () => {
  const file = join(work, "requests.txt")
  const warm = join(work, "warm.txt")
  const bytes = writeRequests(file, size, measuredCount(size, seconds), secret)
  writeRequests(warm, size, warmCount(size), secret, "warm")
  console.log(`${bytes} B notifications, SINKS=${sinks}, ${rounds} rounds of ${seconds} s, wrk -c32`)
  const results = new Map(servers.map(({ name }) => [name, [] as Array<Awaited<ReturnType<typeof run>>>]))
  for (let round = 0; round < rounds; round++) {
    const line: Array<string> = []
    for (const { env, name, path } of servers) {
      const result = await run(path, env, file, warm)
      results.get(name)!.push(result)
      line.push(
        `${name} ${result.rate.toFixed(0)} req/s ${result.cpuUs.toFixed(0)} µs p99 ${result.p99.toFixed(1)} ${
          result.rssMb.toFixed(0)
        } MB${result.bad > 0 ? ` (${result.bad} bad)` : ""}`
      )
    }
    console.log(`round ${round + 1}: ${line.join(", ")}`)
  }
  const first = median(results.get(servers[0]!.name)!.map((r) => r.rate))
  for (const { name } of servers) {
    const runs = results.get(name)!
    const rate = median(runs.map((r) => r.rate))
    console.log(
      `${name}: median ${rate.toFixed(0)} req/s (${(rate / first).toFixed(2)} of ${servers[0]!.name}), ${
        median(runs.map((r) => r.cpuUs)).toFixed(0)
      } µs CPU/req, p99 ${median(runs.map((r) => r.p99)).toFixed(1)} ms, peak RSS ${
        Math.max(...runs.map((r) => r.rssMb)).toFixed(0)
      } MB; rounds ${runs.map((r) => r.rate.toFixed(0)).join(" / ")}`
    )
  }
  rmSync(work, { recursive: true, force: true })
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
