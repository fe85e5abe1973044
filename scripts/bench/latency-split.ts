/**
 * Where a steady rate's slow requests spend their time. Each request's latency as the client saw it is set against the
 * service's own timing of it (`duration_ms` of its request log line: from the request's arrival to its answer), and the
 * slowest 1% are listed in the order sent, in clusters. A cluster the service timed as slow was slow inside it (a
 * collection, a sync, a checkpoint); one it timed as fast waited before the service read it (its event loop busy) or in
 * the client. `--burst` warms up with 2 s of wrk as `npm run bench` does, otherwise 2 s at the rate as `steady-ab.ts`.
 * Usage: npx tsx scripts/bench/latency-split.ts [--runs N] [--rate R] [--seconds S] [--burst] path[+VAR=value]
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { takeFlag, takeOption } from "./args.js"
import { percentile } from "./median.js"
import { intercomId, warmCount, writeRequests } from "./requests.js"
import { flagsOf, root, serverSpecs, startServer } from "./server.js"
import { type Sample, steady } from "./steady.js"

const args = process.argv.slice(2)
const option = (name: string, fallback: number) => Number(takeOption(args, name, String(fallback)))
const burst = takeFlag(args, "--burst")
const runs = option("--runs", 3)
const rate = option("--rate", 1000)
const seconds = option("--seconds", 10)
const [server] = serverSpecs(args.map((arg) => `service=${arg}`))
if (server === undefined) throw new Error("name the service's bundle, e.g. dist/bundle/main.mjs")
const secret = "bench-secret"
const work = mkdtempSync(join(tmpdir(), "latency-split-"))
/** Requests sent within this many ms of each other are one cluster. */
const CLUSTER_GAP_MS = 50

/** The service's `duration_ms` per notification id, from its JSON request log. */
const serviceTimes = (log: string) => {
  const times = new Map<string, number>()
  for (const line of readFileSync(log, "utf8").split("\n")) {
    if (!line.includes("\"message\":\"webhook\"")) continue
    const { annotations } = JSON.parse(line) as { annotations: { id?: string; duration_ms?: number } }
    if (annotations.id !== undefined && annotations.duration_ms !== undefined) {
      times.set(annotations.id, annotations.duration_ms)
    }
  }
  return times
}

const main = async () => {
  for (let run = 1; run <= runs; run++) {
    const warm = join(work, `warm-${run}.txt`)
    const file = join(work, `requests-${run}.txt`)
    const prefix = `split${run}`
    writeRequests(warm, 0, burst ? warmCount(0) : rate * 2, secret, `warm${run}`)
    writeRequests(file, 0, rate * seconds, secret, prefix)
    const log = join(work, `service-${run}.log`)
    const { stop, url } = await startServer({
      script: server.path,
      port: 18_196,
      flags: flagsOf(server.env),
      work,
      secret,
      sinks: "file",
      env: { LOG_LEVEL: "info", ...server.env },
      stderr: log
    })
    if (burst) {
      execFileSync("wrk", ["-t1", "-c32", "-d2s", "-s", join(root, "scripts/bench/requests.lua"), url], {
        env: { ...process.env, REQUESTS_FILE: warm, LIMIT: "1e12" },
        stdio: "ignore"
      })
    } else await steady(`${url}/webhooks/intercom`, warm, rate, 2)
    const samples: Array<Sample> = []
    const { failures, startedAt } = await steady(`${url}/webhooks/intercom`, file, rate, seconds, samples)
    await stop()
    const times = serviceTimes(log)
    const rows = samples.flatMap((sample, index) => {
      const service = times.get(intercomId(prefix, index))
      return sample === undefined || service === undefined ? [] : [{ ...sample, service }]
    })
    if (rows.length === 0) throw new Error(`the service logged no request lines (${log}): run it at LOG_LEVEL=info`)
    const client = rows.map((row) => row.latencyMs).sort((a, b) => a - b)
    const inService = rows.map((row) => row.service).sort((a, b) => a - b)
    const cut = percentile(client, 0.99)
    console.log(
      `run ${run}: ${rows.length} requests (${failures} not answered 200); client p50 ${
        percentile(client, 0.5).toFixed(1)
      } p99 ${cut.toFixed(1)} max ${client[client.length - 1]!.toFixed(1)} ms; service p50 ${
        percentile(inService, 0.5).toFixed(1)
      } p99 ${percentile(inService, 0.99).toFixed(1)} max ${inService[inService.length - 1]!.toFixed(1)} ms`
    )
    const slow = rows.filter((row) => row.latencyMs >= cut)
    const clusters: Array<Array<(typeof rows)[number]>> = []
    for (const row of slow) {
      const last = clusters[clusters.length - 1]
      if (last !== undefined && row.sentMs - last[last.length - 1]!.sentMs <= CLUSTER_GAP_MS) last.push(row)
      else clusters.push([row])
    }
    for (const cluster of clusters) {
      const worst = cluster.reduce((a, b) => (b.latencyMs > a.latencyMs ? b : a))
      console.log(
        `  at ${cluster[0]!.sentMs.toFixed(0)} ms (${
          new Date(startedAt + cluster[0]!.sentMs).toISOString().slice(11, 23)
        }): ${cluster.length} slow, worst ${worst.latencyMs.toFixed(1)} ms (service ${
          worst.service.toFixed(1)
        } ms), service's own share ${
          (cluster.reduce((sum, row) => sum + row.service, 0) / cluster.reduce((sum, row) => sum + row.latencyMs, 0) *
            100)
            .toFixed(0)
        }%`
      )
    }
  }
  rmSync(work, { recursive: true, force: true })
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
