import { readFileSync } from "node:fs"
import { Pool } from "undici"
import { percentile } from "./median.js"

/** When a request was sent (ms after the first) and how long its answer took (ms). */
export interface Sample {
  readonly sentMs: number
  readonly latencyMs: number
}

/**
 * Sends the requests of `file` at a steady `rate` per second for `seconds`; latency percentiles in microseconds.
 * `samples`, if given, receives each answered request's sample at its line's index.
 */
export const steady = async (url: string, file: string, rate: number, seconds: number, samples?: Array<Sample>) => {
  const lines = readFileSync(file, "utf8").split("\n").filter((line) => line.length > 0)
  const total = Math.min(lines.length, rate * seconds)
  const origin = new URL(url)
  const pool = new Pool(origin.origin, { connections: 64, pipelining: 1 })
  const latencies: Array<number> = []
  let failures = 0
  const started = performance.now()
  const inFlight: Array<Promise<void>> = []
  for (let index = 0; index < total; index++) {
    const due = started + (index * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    const line = lines[index]!
    const tab = line.indexOf("\t")
    const sent = performance.now()
    inFlight.push(
      pool.request({
        path: origin.pathname,
        method: "POST",
        headers: { "content-type": "application/json", "x-hub-signature": line.slice(0, tab) },
        body: line.slice(tab + 1)
      }).then(async (response) => {
        await response.body.dump()
        if (response.statusCode !== 200) failures++
        const latencyMs = performance.now() - sent
        latencies.push(latencyMs * 1000)
        if (samples !== undefined) samples[index] = { sentMs: sent - started, latencyMs }
      }, () => void failures++)
    )
  }
  await Promise.all(inFlight)
  await pool.close()
  latencies.sort((a, b) => a - b)
  const at = (p: number) => Math.round(percentile(latencies, p) || 0)
  return {
    requests: total,
    failures,
    p50_us: at(0.5),
    p99_us: at(0.99),
    max_us: at(1),
    /** When the first request was sent, in ms since the epoch (a sample's `sentMs` counts from it). */
    startedAt: performance.timeOrigin + started
  }
}
