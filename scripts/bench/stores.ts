/**
 * npm run bench -- --store postgres: the receiver on its embedded SQLite store against the receiver on PostgreSQL
 * (PG_BENCH_URL, default postgres://postgres@127.0.0.1:5432/postgres; a fresh database per round), as one instance and
 * as two processes on two ports, each driven by its own wrk with half the connections (what a load balancer would do).
 * Rounds alternate SQLite / PostgreSQL x1 / PostgreSQL x2, for SINKS=file (the store keeps dedupe ids only) and
 * SINKS=http (every notification also queued in the outbox). Besides req/s, the CPU time per request of the receivers
 * and of the PostgreSQL server (every process named postgres): on a shared machine, less noisy than req/s.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import pg from "pg"
import { median } from "./median.js"
import { warmCount, writeRequests } from "./requests.js"

interface Measured {
  readonly requests: number
  readonly reqPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly non2xx: number
}

interface Running {
  readonly url: string
  readonly pid: number
  readonly stop: () => Promise<void>
}

export interface Harness {
  readonly work: string
  readonly secret: string
  readonly pairs: number
  readonly seconds: number
  readonly start: (kind: "receiver", port: number, sinks: string, extra: Record<string, string>) => Promise<Running>
  readonly wrkAsync: (url: string, file: string, duration: number, connections: number) => Promise<Measured>
}

const admin = process.env.PG_BENCH_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const CONNECTIONS = 32

const setups = [
  { label: "SQLite, 1 instance", instances: 1, postgres: false },
  { label: "PostgreSQL, 1 instance", instances: 1, postgres: true },
  { label: "PostgreSQL, 2 instances", instances: 2, postgres: true }
] as const

/** CPU time of a process so far, in microseconds (user + system; /proc counts in 1/100 s). */
export const cpuUs = (pid: number | string): number => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  } catch {
    return 0
  }
}

const postgresCpuUs = (): number =>
  readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).reduce((sum, pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "postgres" ? sum + cpuUs(pid) : sum
    } catch {
      return sum
    }
  }, 0)

const fmt = (value: number, digits = 0) => value.toFixed(digits)

const onAdmin = async (statement: string) => {
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

/** A fresh database for one round: its URL and how to drop it. */
const freshDatabase = async (round: string) => {
  const name = `receiver_bench_${process.pid}_${round}`
  await onAdmin(`CREATE DATABASE ${name}`)
  const url = new URL(admin)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: () => onAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}

export const compareStores = async (harness: Harness) => {
  // Each instance gets its own notification ids, as behind a load balancer.
  const files = [0, 1].map((instance) => {
    const file = join(harness.work, `store-requests-${instance}.txt`)
    const warm = join(harness.work, `store-warm-${instance}.txt`)
    writeRequests(file, 0, 40_000, harness.secret, `store${instance}`)
    writeRequests(warm, 0, warmCount(0), harness.secret, `warm${instance}`)
    return { file, warm }
  })
  const rows: Array<string> = []
  for (const sinks of ["file", "http"]) {
    const results = setups.map(() => [] as Array<Measured & { receiverUs: number; postgresUs: number }>)
    for (let pair = 0; pair < harness.pairs; pair++) {
      for (const [index, setup] of setups.entries()) {
        const database = setup.postgres ? await freshDatabase(`${sinks}_${pair}_${index}`) : undefined
        const extra: Record<string, string> = database === undefined ? {} : { STORE_URL: database.url }
        const servers: Array<Running> = []
        for (let instance = 0; instance < setup.instances; instance++) {
          servers.push(await harness.start("receiver", 18_190 + instance, sinks, extra))
        }
        const connections = CONNECTIONS / setup.instances
        const drive = (file: "file" | "warm", seconds: number) =>
          Promise.all(
            servers.map((server, instance) =>
              harness.wrkAsync(server.url, files[instance]![file], seconds, connections)
            )
          )
        await drive("warm", 2)
        const receiverBefore = servers.reduce((sum, server) => sum + cpuUs(server.pid), 0)
        const postgresBefore = postgresCpuUs()
        const runs = await drive("file", harness.seconds)
        const receiverUs = servers.reduce((sum, server) => sum + cpuUs(server.pid), 0) - receiverBefore
        const postgresUs = postgresCpuUs() - postgresBefore
        for (const server of servers) await server.stop()
        await database?.drop()
        const requests = runs.reduce((sum, run) => sum + run.requests, 0)
        const measured = {
          requests,
          receiverUs: receiverUs / requests,
          postgresUs: setup.postgres ? postgresUs / requests : 0,
          reqPerSec: runs.reduce((sum, run) => sum + run.reqPerSec, 0),
          p50Ms: Math.max(...runs.map((run) => run.p50Ms)),
          p99Ms: Math.max(...runs.map((run) => run.p99Ms)),
          non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0)
        }
        results[index]!.push(measured)
        console.error(
          `SINKS=${sinks} round ${pair + 1}: ${setup.label} ${fmt(measured.reqPerSec)} req/s, CPU per request: ` +
            `receiver ${fmt(measured.receiverUs)} µs, PostgreSQL ${fmt(measured.postgresUs)} µs` +
            (measured.non2xx > 0 ? ` (${measured.non2xx} not 2xx)` : "")
        )
      }
    }
    for (const [index, setup] of setups.entries()) {
      const runs = results[index]!
      const ratio = median(runs.map((run, pair) => run.reqPerSec / results[0]![pair]!.reqPerSec))
      rows.push(
        `| ${sinks} | ${setup.label} | ${runs.map((run) => fmt(run.reqPerSec)).join(" / ")} | ${
          fmt(median(runs.map((run) => run.reqPerSec)))
        } | ${fmt(median(runs.map((run) => run.p50Ms)), 1)} | ${fmt(median(runs.map((run) => run.p99Ms)), 1)} | ${
          fmt(median(runs.map((run) => run.receiverUs)))
        } | ${setup.postgres ? fmt(median(runs.map((run) => run.postgresUs))) : "-"} | ${
          runs.reduce((sum, run) => sum + run.non2xx, 0)
        } | ${fmt(ratio, 2)} |`
      )
    }
  }
  console.log(
    "| SINKS | store | req/s per round | median req/s | p50 ms | p99 ms | receiver CPU µs/req | PostgreSQL CPU µs/req " +
      "| not 2xx | ratio to SQLite |"
  )
  console.log("|---|---|---|---|---|---|---|---|---|---|")
  for (const row of rows) console.log(row)
}
