/**
 * Latency at a steady rate for several server scripts or flag sets, alternating, each after 2 s at the rate to warm
 * up: the p99 target's before/after.
 * Usage: npx tsx scripts/bench/steady-ab.ts [--runs N] [--rate R] [--seconds S] name=path[+VAR=value] ...
 * (`+NODE_FLAGS=a,b` replaces `npm start`'s V8 flags, as in ab.ts).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { takeOption } from "./args.js"
import { median } from "./median.js"
import { writeRequests } from "./requests.js"
import { flagsOf, serverSpecs, startServer } from "./server.js"
import { steady } from "./steady.js"

const args = process.argv.slice(2)
const option = (name: string, fallback: number) => Number(takeOption(args, name, String(fallback)))
const runs = option("--runs", 3)
const rate = option("--rate", 1000)
const seconds = option("--seconds", 10)
const servers = serverSpecs(args)
const secret = "bench-secret"
const work = mkdtempSync(join(tmpdir(), "steady-ab-"))

const main = async () => {
  // Two seconds at the rate first, on ids of their own (`npm run bench` warms up with 2 s of wrk instead).
  const warm = join(work, "warm.txt")
  writeRequests(warm, 0, rate * 2, secret, "warm")
  const results = new Map(servers.map(({ name }) => [name, [] as Array<{ p50: number; p99: number }>]))
  for (let run = 0; run < runs; run++) {
    const line: Array<string> = []
    for (const { env, name, path } of servers) {
      const file = join(work, `requests-${name}-${run}.txt`)
      writeRequests(file, 0, rate * seconds, secret, `${name}${run}`)
      const server = await startServer({
        script: path,
        port: 18_195,
        flags: flagsOf(env),
        work,
        secret,
        sinks: "file",
        env
      })
      await steady(`${server.url}/webhooks/intercom`, warm, rate, 2)
      const paced = await steady(`${server.url}/webhooks/intercom`, file, rate, seconds)
      await server.stop()
      const result = { p50: paced.p50_us / 1000, p99: paced.p99_us / 1000 }
      results.get(name)!.push(result)
      line.push(
        `${name} p50 ${result.p50.toFixed(1)} p99 ${result.p99.toFixed(1)} ms${
          paced.failures > 0 ? ` (${paced.failures} failed)` : ""
        }`
      )
    }
    console.log(`run ${run + 1}: ${line.join(", ")}`)
  }
  for (const { name } of servers) {
    const all = results.get(name)!
    console.log(
      `${name}: p50 median ${median(all.map((r) => r.p50)).toFixed(1)} ms, p99 ${
        all.map((r) => r.p99.toFixed(1)).join(" / ")
      } ms`
    )
  }
  rmSync(work, { recursive: true, force: true })
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
