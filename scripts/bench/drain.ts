/**
 * npm run bench -- --drain: how fast the service delivers (issue "Deliver as fast as Intercom sends"), end to end
 * through the built service (`dist/bundle/main.mjs`, a child process) and the real brokers on 127.0.0.1. Rounds
 * alternate the sinks (nats, rabbitmq, redis, http, nats, ...); each round has a stream, an exchange + bound queue or
 * a stream key of its own (removed after it), or for `http` a target process of its own
 * (scripts/bench/drain-target.mjs: answers 200 at once, records each `x-notification-id` as it arrives).
 *
 * - drain: a backlog of `--backlog` notifications (100,000), one instance, no ingest. The backlog is made through the
 *   service: it runs with its sink's target unreachable (port 9) while the notifications are posted, then stops, and
 *   its store is kept; each round starts the service on a copy of that store with the target reachable, and times
 *   from the spawn until the target holds them all (counted at the target every `--poll-ms`, 150) and then /metrics
 *   shows the outbox empty. /metrics is not polled meanwhile: a scrape counts the whole outbox on the service's thread
 *   (about 75-100 ms with 100,000 waiting; printed with each backlog), so polling it every 150 ms took half the
 *   service's time; `--metrics-ms N` scrapes it every N ms all the same. Targets: nats and redis >= 5,000/s,
 *   rabbitmq >= 3,000/s, http >= 2,500/s.
 * - peak: `--peak-rate` (2,500) notifications a second for `--peak-seconds` (60) with the target up, after
 *   `--warm-seconds` (2) at that rate: answers other than 200, the highest backlog (answered 200 less held by the
 *   target, every 200 ms; and outbox_depth from /metrics every second), the most requests waiting for their answer
 *   (the service not keeping up with the load shows there, not in the outbox), the time from the last request until
 *   the outbox is empty. Targets: no 503, never above 20,000, empty within 15 s.
 * - recovery (`http` only): `--recovery-rate` (200) a second; after `--before-seconds` (10) the target stops for
 *   `--outage-seconds` (60; the issue's case is 300), then comes back while the load goes on for `--after-seconds`
 *   (30). Time from its return to the first delivery and until everything accepted before its return is delivered,
 *   dead letters (must be 0), and each key's order at the target.
 *
 * Notifications are `conversation.admin.closed` (2.8 KB) about `--keys` conversations (5,000): the i-th is about
 * conversation i mod keys, so each key's notifications are sent in the order of their index, which the target checks.
 * Other options: `--parts drain,peak,recovery` (all), `--sinks nats,rabbitmq,redis,http` (all), `--rounds N` (3),
 * `--order receive` (DELIVERY_ORDER=receive), `--concurrency N` (DELIVERY_CONCURRENCY), `--cpu-prof` (the drain
 * rounds' service writes a V8 CPU profile into a folder that is kept and printed). The service otherwise runs with its
 * defaults and `npm start`'s V8 flags.
 */
import { type ChildProcess, execSync, spawn } from "node:child_process"
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { Pool } from "undici"
import { sign } from "../../src/pipeline/Signature.js"
import { takeFlag, takeOption } from "./args.js"
import { median, percentile } from "./median.js"
import { intercomId, notificationOfSize } from "./requests.js"
import { nodeFlags, root, type Server, startServer } from "./server.js"
import { type BrokerSink, destination } from "./sinks.js"
import { cpuUs } from "./stores.js"

const drainSinks = ["nats", "rabbitmq", "redis", "http"] as const
type DrainSink = typeof drainSinks[number]
const drainParts = ["drain", "peak", "recovery"] as const
type Part = typeof drainParts[number]

const SERVICE_PORT = 18_210
const TARGET_PORT = 18_211
/** A port nothing listens on: a target that is down. */
const NOWHERE = 9
const FILL_CONNECTIONS = 32
const PACED_CONNECTIONS = 64
const PEAK_POLL_MS = 200
/** How often the peak part scrapes /metrics: a scrape reads the whole outbox on the service's thread. */
const METRICS_MS = 1000
const RECOVERY_METRICS_MS = 500

/** The issue's targets. */
const drainTarget: Record<DrainSink, number> = { nats: 5_000, redis: 5_000, rabbitmq: 3_000, http: 2_500 }
const PEAK_MAX_BACKLOG = 20_000
const PEAK_DRAINED_WITHIN_S = 15

/** The settings that point a sink at a target that is down. */
const unreachable: Record<DrainSink, Record<string, string>> = {
  http: { HTTP_FORWARD_URL: `http://127.0.0.1:${NOWHERE}/unreachable` },
  nats: { NATS_URL: `nats://127.0.0.1:${NOWHERE}` },
  rabbitmq: { AMQP_URL: `amqp://guest:guest@127.0.0.1:${NOWHERE}` },
  redis: { REDIS_URL: `redis://127.0.0.1:${NOWHERE}` }
}

/** The processes that do the brokers' work, whose CPU time a round counts. */
const brokerProcess: Record<BrokerSink, string> = { nats: "nats-server", rabbitmq: "beam.smp", redis: "redis-server" }

export interface DrainOptions {
  readonly parts: ReadonlyArray<Part>
  readonly sinks: ReadonlyArray<DrainSink>
  readonly rounds: number
  readonly backlog: number
  readonly keys: number
  readonly order: "key" | "receive"
  readonly concurrency: string | undefined
  readonly pollMs: number
  readonly metricsMs: number
  readonly peakRate: number
  readonly peakSeconds: number
  readonly warmSeconds: number
  readonly recoveryRate: number
  readonly beforeSeconds: number
  readonly outageSeconds: number
  readonly afterSeconds: number
  readonly cpuProf: boolean
}

const list = <A extends string>(text: string, allowed: ReadonlyArray<A>, option: string): ReadonlyArray<A> => {
  const names = text.split(",").map((name) => name.trim()).filter((name) => name.length > 0)
  const known = names.filter((name): name is A => (allowed as ReadonlyArray<string>).includes(name))
  if (names.length === 0 || known.length < names.length) {
    throw new Error(`${option} takes a list of ${allowed.join(", ")}`)
  }
  return known
}

const positive = (text: string, option: string) => {
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${option} takes a positive number, not ${text}`)
  return value
}

export const parseDrain = (argv: ReadonlyArray<string>): DrainOptions => {
  const args = [...argv]
  const number = (name: string, fallback: number) => positive(takeOption(args, name, String(fallback)), name)
  const order = takeOption(args, "--order", "key")
  if (order !== "key" && order !== "receive") throw new Error("--order takes key or receive")
  const concurrency = takeOption(args, "--concurrency", "")
  const options: DrainOptions = {
    parts: list(takeOption(args, "--parts", drainParts.join(",")), drainParts, "--parts"),
    sinks: list(takeOption(args, "--sinks", drainSinks.join(",")), drainSinks, "--sinks"),
    rounds: Math.round(number("--rounds", 3)),
    backlog: Math.round(number("--backlog", 100_000)),
    keys: Math.round(number("--keys", 5_000)),
    order,
    concurrency: concurrency === "" ? undefined : String(Math.round(positive(concurrency, "--concurrency"))),
    pollMs: number("--poll-ms", 150),
    metricsMs: Number(takeOption(args, "--metrics-ms", "0")),
    peakRate: number("--peak-rate", 2_500),
    peakSeconds: number("--peak-seconds", 60),
    warmSeconds: Number(takeOption(args, "--warm-seconds", "2")),
    recoveryRate: number("--recovery-rate", 200),
    beforeSeconds: number("--before-seconds", 10),
    outageSeconds: number("--outage-seconds", 60),
    afterSeconds: number("--after-seconds", 30),
    cpuProf: takeFlag(args, "--cpu-prof")
  }
  if (args.length > 0) throw new Error(`--drain does not take ${args.join(" ")} (see scripts/bench/drain.ts)`)
  return options
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)))
const fmt = (value: number, digits = 0) => Number.isFinite(value) ? value.toFixed(digits) : "-"
const load = () => loadavg().map((value) => value.toFixed(2)).join(", ")

// Every process the bench starts, stopped with it however it ends: here, and by a small process of its own (the
// reaper) once the bench's IPC channel to it closes, which it does even when the bench is killed with SIGKILL.
const REAPER = `const pids = new Set()
process.on("message", ([op, pid]) => op === "add" ? pids.add(pid) : pids.delete(pid))
process.on("disconnect", () => {
  for (const pid of pids) try { process.kill(pid, "SIGKILL") } catch {}
  process.exit(0)
})`
const children = new Set<number>()
let reaper: ChildProcess | undefined
const track = (pid: number) => {
  children.add(pid)
  reaper ??= spawn(process.execPath, ["-e", REAPER], { stdio: ["ignore", "ignore", "ignore", "ipc"] })
  reaper.send(["add", pid])
}
const untrack = (pid: number) => {
  children.delete(pid)
  reaper?.send(["remove", pid])
}
const killChildren = () => {
  for (const pid of children) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  children.clear()
  if (reaper?.connected === true) reaper.disconnect()
  reaper = undefined
}

/** Notification `index` of a run: its id, its key (conversation `index mod keys`), its signed body. */
interface Requests {
  readonly keys: number
  readonly id: (index: number) => string
  readonly request: (index: number) => { readonly signature: string; readonly body: string }
}

const makeRequests = (secret: string, prefix: string, keys: number): Requests => {
  const notification = notificationOfSize(0)
  notification.id = "@@ID@@"
  notification.data.item.id = "@@ITEM@@"
  const text = JSON.stringify(notification)
  const id = (index: number) => intercomId(prefix, index)
  return {
    keys,
    id,
    request: (index) => {
      const body = text.replace("\"@@ID@@\"", JSON.stringify(id(index))).replace(
        "\"@@ITEM@@\"",
        JSON.stringify(String(1_000_000_000 + (index % keys)))
      )
      return { signature: sign(secret, Buffer.from(body)), body }
    }
  }
}

interface Sent {
  readonly count: number
  /** 1 at each index answered 200. */
  readonly accepted: Uint8Array
  /** Answers by status (`error`: no answer). */
  readonly statuses: Map<string, number>
  /** Epoch ms: the first request sent, the last one sent, the last answer. */
  readonly startedAt: number
  readonly sentAt: number
  readonly answeredAt: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

const notOk = (sent: Sent) =>
  [...sent.statuses].filter(([status]) => status !== "200").reduce((sum, [, count]) => sum + count, 0)
const statusText = (sent: Sent) =>
  [...sent.statuses].filter(([status]) => status !== "200").map(([status, count]) => `${count} x ${status}`).join(
    ", "
  ) || "none"

/**
 * POSTs notifications `indices` of `requests`: as fast as `connections` connections take them, or at a steady
 * `rate` a second (as `steady.ts` does). `progress`, if given, counts the requests sent, answered and accepted so
 * far.
 */
const post = async (
  url: string,
  requests: Requests,
  indices: ReadonlyArray<number>,
  options: {
    readonly connections: number
    readonly rate?: number
    readonly progress?: { sent: number; answered: number; accepted: number }
  },
  accepted = new Uint8Array(indices.reduce((max, index) => Math.max(max, index + 1), 0))
): Promise<Sent> => {
  const origin = new URL(url)
  const pool = new Pool(origin.origin, { connections: options.connections, pipelining: 1 })
  const statuses = new Map<string, number>()
  const count = (status: string) => statuses.set(status, (statuses.get(status) ?? 0) + 1)
  const latencies: Array<number> = []
  let answeredAt = 0
  const one = (index: number) => {
    const { body, signature } = requests.request(index)
    const sent = performance.now()
    if (options.progress !== undefined) options.progress.sent++
    return pool.request({
      path: "/webhooks/intercom",
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature": signature },
      body
    }).then(async (response) => {
      await response.body.dump()
      count(String(response.statusCode))
      if (options.progress !== undefined) options.progress.answered++
      if (response.statusCode === 200) {
        accepted[index] = 1
        if (options.progress !== undefined) options.progress.accepted++
      }
      latencies.push(performance.now() - sent)
      answeredAt = Date.now()
    }, () => {
      count("error")
      if (options.progress !== undefined) options.progress.answered++
    })
  }
  const startedAt = Date.now()
  let sentAt = startedAt
  if (options.rate === undefined) {
    let next = 0
    await Promise.all(Array.from({ length: options.connections }, async () => {
      while (next < indices.length) await one(indices[next++]!)
    }))
    sentAt = Date.now()
  } else {
    const started = performance.now()
    const inFlight: Array<Promise<void>> = []
    for (const [position, index] of indices.entries()) {
      const wait = started + (position * 1000) / options.rate - performance.now()
      if (wait > 1) await sleep(wait)
      inFlight.push(one(index))
    }
    sentAt = Date.now()
    await Promise.all(inFlight)
  }
  await pool.close()
  latencies.sort((a, b) => a - b)
  return {
    count: indices.length,
    accepted,
    statuses,
    startedAt,
    sentAt,
    answeredAt,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies.at(-1) ?? Number.NaN
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, offset) => from + offset)

interface Scrape {
  /** Epoch ms when the answer came. */
  readonly at: number
  readonly depth: number
  readonly delivered: number
  readonly deadLetters: number
  /** How long the scrape took. */
  readonly ms: number
}

const sumOf = (text: string, pattern: RegExp) =>
  [...text.matchAll(pattern)].reduce((sum, match) => sum + Number(match[1]), 0)

const scrape = async (url: string): Promise<Scrape | undefined> => {
  const started = performance.now()
  try {
    const text = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) }).then((answer) => answer.text())
    return {
      at: Date.now(),
      depth: Number(/^intercom_webhook_outbox_depth (\S+)$/m.exec(text)?.[1] ?? Number.NaN),
      delivered: sumOf(text, /^intercom_webhook_sink_deliveries_total\{[^}]*\} (\S+)$/gm),
      deadLetters: sumOf(text, /^intercom_webhook_dead_letters_total\{[^}]*\} (\S+)$/gm),
      ms: performance.now() - started
    }
  } catch {
    return undefined
  }
}

/** Takes a sample every `everyMs` until stopped; `until` waits for a later sample that passes a test. */
const watch = <S extends { readonly at: number }>(sample: () => Promise<S | undefined>, everyMs: number) => {
  const samples: Array<S> = []
  let stopped = false
  let wake = () => {}
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now()
      const taken = await sample().catch(() => undefined)
      if (taken !== undefined) samples.push(taken)
      wake()
      await sleep(everyMs - (performance.now() - started))
    }
  })()
  return {
    samples,
    until: async (test: (sample: S) => boolean, timeoutMs: number): Promise<S | undefined> => {
      const deadline = Date.now() + timeoutMs
      let from = samples.length
      while (Date.now() < deadline) {
        for (; from < samples.length; from++) if (test(samples[from]!)) return samples[from]
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, 1000)
        })
      }
      return undefined
    },
    stop: async () => {
      stopped = true
      await loop
    }
  }
}

/** What a target holds, as it is counted. */
interface Count {
  readonly at: number
  readonly count: number
}

const counting = (count: () => Promise<number>) => () =>
  count().then((found): Count => ({ at: Date.now(), count: found }))

/** Scrapes /metrics every `everyMs` until the outbox is empty. */
const untilEmpty = async (url: string, everyMs: number, timeoutMs = 30 * 60_000) => {
  const metrics = watch(() => scrape(url), everyMs)
  const empty = await metrics.until((sample) => sample.depth === 0, timeoutMs)
  await metrics.stop()
  return empty
}

/** What reached the http target, in arrival order: [notification id, epoch ms]. */
type Arrivals = ReadonlyArray<readonly [string, number]>

const parseArrivals = (text: string): Arrivals =>
  text.split("\n").filter((line) => line.length > 0).map((line) => {
    const [id, at] = line.split("\t") as [string, string]
    return [id, Number(at)] as const
  })

interface HttpTarget {
  readonly pid: number
  readonly listeningAt: number
  readonly count: () => Promise<number>
  /** Stops it; what it received. */
  readonly stop: () => Promise<Arrivals>
}

/** The http target as a process of its own; it exits with the bench (its IPC channel closes). */
const startHttpTarget = (logFile: string): Promise<HttpTarget> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [join(root, "scripts/bench/drain-target.mjs")], {
      env: { ...process.env, PORT: String(TARGET_PORT), LOG_FILE: logFile },
      stdio: ["ignore", "pipe", "inherit", "ipc"]
    })
    track(child.pid!)
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    child.once("exit", (code) => reject(new Error(`the http target exited (${code}) before listening`)))
    child.stdout!.once("data", (chunk: Buffer) => {
      const listeningAt = Number(/listening (\d+)/.exec(String(chunk))?.[1])
      resolve({
        pid: child.pid!,
        listeningAt,
        count: () =>
          fetch(`http://127.0.0.1:${TARGET_PORT}/stats`).then((answer) => answer.json() as Promise<{ count: number }>)
            .then((stats) => stats.count),
        stop: async () => {
          child.kill("SIGTERM")
          await exited
          untrack(child.pid!)
          return parseArrivals(readFileSync(logFile, "utf8"))
        }
      })
    })
  })

/** A round's target: the settings pointing the sink at it, what it holds, its CPU time so far, how to end it. */
interface Target {
  readonly env: Record<string, string>
  readonly count: () => Promise<number>
  readonly cpuUs: () => number
  /** Ends it: what the http target received (undefined for a broker). */
  readonly stop: () => Promise<Arrivals | undefined>
}

const processCpuUs = (comm: string): number =>
  readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).reduce((sum, pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm ? sum + cpuUs(pid) : sum
    } catch {
      return sum
    }
  }, 0)

const openTarget = async (sink: DrainSink, round: string, work: string): Promise<Target> => {
  if (sink === "http") {
    const target = await startHttpTarget(join(work, `target-${round}.log`))
    return {
      env: { HTTP_FORWARD_URL: `http://127.0.0.1:${TARGET_PORT}/intercom` },
      count: target.count,
      cpuUs: () => cpuUs(target.pid),
      stop: target.stop
    }
  }
  const broker = await destination(sink, round)
  return {
    env: broker.env,
    count: broker.count,
    cpuUs: () => processCpuUs(brokerProcess[sink]),
    stop: () => broker.remove().then(() => undefined)
  }
}

/** Each key's notifications must arrive in the order of their index; each accepted one must arrive. */
const checkArrivals = (arrivals: Arrivals, requests: Requests, count: number, accepted: Uint8Array) => {
  const indexOf = new Map<string, number>()
  for (let index = 0; index < count; index++) indexOf.set(requests.id(index), index)
  const arrived = new Uint8Array(count)
  const latest = new Int32Array(requests.keys).fill(-1)
  let duplicates = 0
  let outOfOrder = 0
  let unknown = 0
  for (const [id] of arrivals) {
    const index = indexOf.get(id)
    if (index === undefined) {
      unknown++
      continue
    }
    if (arrived[index] === 1) {
      duplicates++
      continue
    }
    arrived[index] = 1
    const key = index % requests.keys
    if (index < latest[key]!) outOfOrder++
    else latest[key] = index
  }
  let lost = 0
  for (let index = 0; index < count; index++) if (accepted[index] === 1 && arrived[index] === 0) lost++
  return { indexOf, duplicates, outOfOrder, unknown, lost }
}

const arrivalsText = (check: ReturnType<typeof checkArrivals>) =>
  `${check.outOfOrder} out of order, ${check.lost} lost, ${check.duplicates} twice`

export const runDrain = async (work: string, secret: string, options: DrainOptions) => {
  process.once("exit", killChildren)
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killChildren()
      rmSync(work, { recursive: true, force: true })
      process.exit(130)
    })
  }
  const profiles = options.cpuProf ? mkdtempSync(join(tmpdir(), "drain-profiles-")) : undefined
  const settings: Record<string, string> = {
    // The service's own defaults (server.ts sets a 10-minute backoff for the other benches).
    RETRY_BASE_DELAY: "1s",
    DELIVERY_ORDER: options.order,
    ...(options.concurrency === undefined ? {} : { DELIVERY_CONCURRENCY: options.concurrency })
  }
  const service = async (sink: DrainSink, env: Record<string, string>, name: string, profile = false) => {
    const server = await startServer({
      script: "dist/bundle/main.mjs",
      port: SERVICE_PORT,
      flags: profile && profiles !== undefined ? [...nodeFlags, "--cpu-prof", `--cpu-prof-dir=${profiles}`] : nodeFlags,
      work,
      secret,
      sinks: sink,
      env: { ...settings, ...env },
      stderr: join(work, `service-${name}.log`)
    })
    track(server.pid)
    if ((await scrape(server.url)) === undefined) {
      const log = readFileSync(join(work, `service-${name}.log`), "utf8").split("\n").slice(-20).join("\n")
      throw new Error(`the service did not start; the end of its log:\n${log}`)
    }
    return {
      ...server,
      stop: async () => {
        await server.stop()
        untrack(server.pid)
      }
    } satisfies Server
  }
  const setting = `${options.keys} keys (conversations), DELIVERY_ORDER=${options.order}` +
    (options.concurrency === undefined ? "" : `, DELIVERY_CONCURRENCY=${options.concurrency}`)
  const output: Array<string> = [
    `Machine: ${execSync("nproc").toString().trim()} cores, Node ${process.version}; ${
      new Date().toISOString().slice(0, 16)
    }; load average at start ${load()}`,
    `Notifications: 2.8 KB conversation.admin.closed about ${setting}`
  ]
  try {
    if (options.parts.includes("drain")) output.push("", ...(await drainPart(work, secret, options, service)))
    if (options.parts.includes("peak")) output.push("", ...(await peakPart(work, secret, options, service)))
    if (options.parts.includes("recovery")) output.push("", ...(await recoveryPart(work, secret, options, service)))
  } finally {
    killChildren()
  }
  output.push("", `Load average at the end: ${load()}`)
  if (profiles !== undefined) output.push(`CPU profiles of the drain rounds' service: ${profiles}`)
  console.log(output.join("\n"))
}

type StartService = (
  sink: DrainSink,
  env: Record<string, string>,
  name: string,
  profile?: boolean
) => Promise<Server>

/** Posts the backlog to the service while its sink's target is down; the store it leaves, and what was accepted. */
const fill = async (work: string, secret: string, options: DrainOptions, sink: DrainSink, start: StartService) => {
  const data = mkdtempSync(join(work, `backlog-${sink}-`))
  const requests = makeRequests(secret, `drain-${sink}`, options.keys)
  const server = await start(sink, {
    ...unreachable[sink],
    DATA_DIR: data,
    OUTBOX_MAX_ROWS: String(Math.max(100_000, options.backlog + 10_000))
  }, `fill-${sink}`)
  const accepted = new Uint8Array(options.backlog)
  let first: Sent | undefined
  for (let pass = 0; pass < 4; pass++) {
    const missing = range(0, options.backlog).filter((index) => accepted[index] === 0)
    if (missing.length === 0) break
    const sent = await post(server.url, requests, missing, { connections: FILL_CONNECTIONS }, accepted)
    first ??= sent
  }
  // What one /metrics scrape costs with the backlog waiting (the service otherwise idle: its target is down).
  const scrapes: Array<Scrape> = []
  for (let scraped = 0; scraped < 5; scraped++) scrapes.push((await scrape(server.url))!)
  const depth = scrapes.at(-1)?.depth
  await server.stop()
  if (depth !== options.backlog) {
    throw new Error(`the ${sink} backlog holds ${depth} deliveries, not ${options.backlog}`)
  }
  const seconds = (first!.sentAt - first!.startedAt) / 1000
  const scrapeMs = median(scrapes.map((scraped) => scraped.ms))
  console.error(
    `backlog for ${sink}: ${options.backlog} notifications posted in ${fmt(seconds, 1)} s (${
      fmt(first!.count / seconds)
    } accepted/s with the target down; not 200: ${statusText(first!)}); a /metrics scrape then took ${
      fmt(scrapeMs, 1)
    } ms (median of 5)`
  )
  return { data, requests, accepted, scrapeMs }
}

interface DrainRound {
  readonly perSecond: number
  readonly fromReady: number
  readonly seconds: number
  readonly startSeconds: number
  readonly serviceUs: number
  readonly targetUs: number
  readonly check: string
}

const drainPart = async (work: string, secret: string, options: DrainOptions, start: StartService) => {
  console.error(`drain: load average ${load()}`)
  const backlogs = new Map<DrainSink, Awaited<ReturnType<typeof fill>>>()
  for (const sink of options.sinks) backlogs.set(sink, await fill(work, secret, options, sink, start))
  const results = new Map(options.sinks.map((sink) => [sink, [] as Array<DrainRound>]))
  for (let round = 1; round <= options.rounds; round++) {
    for (const sink of options.sinks) {
      const backlog = backlogs.get(sink)!
      const data = mkdtempSync(join(work, `drain-${sink}-`))
      for (const file of readdirSync(backlog.data)) copyFileSync(join(backlog.data, file), join(data, file))
      const name = `drain${round}_${sink}`
      const target = await openTarget(sink, name, work)
      const targetBefore = target.cpuUs()
      const spawned = Date.now()
      const server = await start(sink, { ...target.env, DATA_DIR: data }, name, true)
      const ready = Date.now()
      // Counted at the target: a /metrics scrape reads the whole outbox on the service's thread (see `fill`).
      const counts = watch(counting(target.count), options.pollMs)
      const metrics = options.metricsMs > 0 ? watch(() => scrape(server.url), options.metricsMs) : undefined
      const all = await counts.until((sample) => sample.count >= options.backlog, 30 * 60_000)
      await counts.stop()
      await metrics?.stop()
      const empty = await untilEmpty(server.url, options.pollMs)
      const serviceUs = cpuUs(server.pid)
      const targetUs = target.cpuUs() - targetBefore
      const atTarget = await target.count()
      const deadLetters = (await scrape(server.url))?.deadLetters ?? Number.NaN
      const firstDelivery = counts.samples.find((sample) => sample.count > 0)
      await server.stop()
      const arrivals = await target.stop()
      rmSync(data, { recursive: true, force: true })
      if (all === undefined || empty === undefined) throw new Error(`the ${sink} outbox was not empty after 30 minutes`)
      const seconds = (empty.at - spawned) / 1000
      const ordered = arrivals === undefined
        ? ""
        : `, ${arrivalsText(checkArrivals(arrivals, backlog.requests, options.backlog, backlog.accepted))}`
      const result: DrainRound = {
        perSecond: options.backlog / seconds,
        fromReady: options.backlog / ((empty.at - ready) / 1000),
        seconds,
        startSeconds: ((firstDelivery?.at ?? Number.NaN) - spawned) / 1000,
        serviceUs: serviceUs / options.backlog,
        targetUs: targetUs / options.backlog,
        check: `${atTarget} at the target${ordered}, ${deadLetters} dead letters`
      }
      results.get(sink)!.push(result)
      console.error(
        `drain round ${round}: ${sink} ${fmt(result.perSecond)}/s (${fmt(seconds, 1)} s from the spawn; ${
          fmt(result.fromReady)
        }/s from ready ${fmt((ready - spawned) / 1000, 2)} s after it; first delivery counted ${
          fmt(result.startSeconds, 2)
        } s after the spawn; all at the target ${fmt((all.at - spawned) / 1000, 1)} s); service CPU ${
          fmt(result.serviceUs, 1)
        } µs/delivery, target ${fmt(result.targetUs, 1)} µs${
          metrics === undefined
            ? ""
            : `; /metrics every ${options.metricsMs} ms took ${
              fmt(median(metrics.samples.map((sample) => sample.ms)), 1)
            } ms (median)`
        }; ${result.check}; load ${load()}`
      )
    }
  }
  for (const backlog of backlogs.values()) rmSync(backlog.data, { recursive: true, force: true })
  return [
    `Drain of a ${options.backlog} backlog, one instance, no ingest: deliveries/s from the spawn of the service until ` +
    `the target held them all (counted every ${options.pollMs} ms) and then /metrics showed the outbox empty` +
    (options.metricsMs > 0 ? ` (and /metrics scraped every ${options.metricsMs} ms throughout)` : "") +
    `, ${options.rounds} rounds`,
    "",
    "| sink | deliveries/s per round | median | median from ready | target | median s | service CPU µs/delivery | " +
    "deliveries per service CPU-second | share of a core the service used | target CPU µs/delivery | a /metrics " +
    "scrape with the backlog waiting, ms | at the target (last round) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...options.sinks.map((sink) => {
      const runs = results.get(sink)!
      const perSecond = median(runs.map((run) => run.perSecond))
      return `| ${sink} | ${runs.map((run) => fmt(run.perSecond)).join(" / ")} | ${fmt(perSecond)} | ${
        fmt(median(runs.map((run) => run.fromReady)))
      } | >= ${drainTarget[sink]} ${perSecond >= drainTarget[sink] ? "met" : "NOT met"} | ${
        fmt(median(runs.map((run) => run.seconds)), 1)
      } | ${fmt(median(runs.map((run) => run.serviceUs)), 1)} | ${
        fmt(median(runs.map((run) => 1e6 / run.serviceUs)))
      } | ${fmt(median(runs.map((run) => (run.perSecond * run.serviceUs) / 1e6)), 2)} | ${
        fmt(median(runs.map((run) => run.targetUs)), 1)
      } | ${fmt(backlogs.get(sink)!.scrapeMs, 1)} | ${runs.at(-1)!.check} |`
    })
  ]
}

interface PeakRound {
  readonly sent: Sent
  /** The most accepted and not yet at the target. */
  readonly maxBacklog: number
  /** The most sent and not yet answered (waiting in front of the service). */
  readonly maxUnanswered: number
  /** The most sent and not yet at the target: what Intercom has handed over and the target does not have. */
  readonly maxUndelivered: number
  /** The highest outbox depth /metrics showed (scraped every second). */
  readonly maxDepth: number
  readonly drainedS: number
}

/** Posts at `rate` for `seconds` after `warmSeconds`, counting answers, backlog and the time to deliver it all. */
const peakPart = async (work: string, secret: string, options: DrainOptions, start: StartService) => {
  console.error(`peak: load average ${load()}`)
  const count = Math.round(options.peakRate * options.peakSeconds)
  const results = new Map(options.sinks.map((sink) => [sink, [] as Array<PeakRound>]))
  for (let round = 1; round <= options.rounds; round++) {
    for (const sink of options.sinks) {
      const name = `peak${round}_${sink}`
      const target = await openTarget(sink, name, work)
      const server = await start(sink, target.env, name)
      if (options.warmSeconds > 0) {
        const warm = makeRequests(secret, `warm-${name}`, options.keys)
        await post(server.url, warm, range(0, Math.round(options.peakRate * options.warmSeconds)), {
          connections: PACED_CONNECTIONS,
          rate: options.peakRate
        })
        await untilEmpty(server.url, 100)
      }
      const requests = makeRequests(secret, name, options.keys)
      const baseline = await target.count()
      const progress = { sent: 0, answered: 0, accepted: 0 }
      // The backlog as accepted (answered 200) less what the target holds, every PEAK_POLL_MS; the outbox's depth
      // from /metrics every METRICS_MS (a scrape reads the whole outbox on the service's thread).
      const backlog = watch(async () => {
        const held = await target.count()
        return {
          at: Date.now(),
          backlog: progress.accepted - (held - baseline),
          unanswered: progress.sent - progress.answered
        }
      }, PEAK_POLL_MS)
      const metrics = watch(() => scrape(server.url), METRICS_MS)
      const sent = await post(server.url, requests, range(0, count), {
        connections: PACED_CONNECTIONS,
        rate: options.peakRate,
        progress
      })
      const all = await backlog.until((sample) => sample.backlog <= 0, 30 * 60_000)
      await backlog.stop()
      await metrics.stop()
      const empty = all === undefined ? undefined : await untilEmpty(server.url, PEAK_POLL_MS)
      const atTarget = (await target.count()) - baseline
      const deadLetters = (await scrape(server.url))?.deadLetters ?? Number.NaN
      await server.stop()
      const arrivals = await target.stop()
      const result: PeakRound = {
        sent,
        maxBacklog: Math.max(...backlog.samples.map((sample) => sample.backlog)),
        maxUnanswered: Math.max(...backlog.samples.map((sample) => sample.unanswered)),
        maxUndelivered: Math.max(...backlog.samples.map((sample) => sample.backlog + sample.unanswered)),
        maxDepth: Math.max(...metrics.samples.map((sample) => sample.depth)),
        drainedS: ((empty?.at ?? Number.NaN) - sent.sentAt) / 1000
      }
      const check = arrivals === undefined
        ? ""
        : `, ${arrivalsText(checkArrivals(arrivals, requests, count, sent.accepted))} (warm-up's left out)`
      results.get(sink)!.push(result)
      console.error(
        `peak round ${round}: ${sink}: sent ${fmt(count / ((sent.sentAt - sent.startedAt) / 1000))}/s, answered ${
          fmt(count / ((sent.answeredAt - sent.startedAt) / 1000))
        }/s (the last answer ${fmt((sent.answeredAt - sent.sentAt) / 1000, 1)} s after the last request), not 200: ${
          statusText(sent)
        }, answers p50 ${fmt(sent.p50Ms, 1)} ms p99 ${fmt(sent.p99Ms, 1)} ms max ${
          fmt(sent.maxMs, 1)
        } ms; backlog at most ${result.maxBacklog} (outbox_depth at most ${result.maxDepth}), requests waiting for ` +
          `an answer at most ${result.maxUnanswered}; empty ${
            fmt(result.drainedS, 1)
          } s after the last request; ${atTarget} at the target${check}, ${deadLetters} dead letters; load ${load()}`
      )
    }
  }
  const rows = [
    `Intercom's peak: ${options.peakRate}/s for ${options.peakSeconds} s (${count} notifications, ${PACED_CONNECTIONS} ` +
    `connections, after ${options.warmSeconds} s at that rate), target up, ${options.rounds} rounds; backlog = ` +
    `answered 200 less held by the target (every ${PEAK_POLL_MS} ms), outbox_depth from /metrics (every ${METRICS_MS} ms)`,
    "",
    "| sink | answered/s per round | not 200 per round | highest backlog per round | highest outbox_depth per " +
    "round | most requests waiting for an answer, per round | s from the last request to empty, per round | median " +
    "highest backlog | median s to empty | p99 answer ms (median) | targets (no 503, <= " +
    `${PEAK_MAX_BACKLOG}, <= ${PEAK_DRAINED_WITHIN_S} s) |`,
    "|---|---|---|---|---|---|---|---|---|---|---|"
  ]
  for (const sink of options.sinks) {
    const runs = results.get(sink)!
    const refused = runs.reduce((sum, run) => sum + notOk(run.sent), 0)
    const lagged = Math.max(...runs.map((run) => (run.sent.answeredAt - run.sent.sentAt) / 1000))
    const met = refused === 0 && runs.every((run) => Math.max(run.maxBacklog, run.maxDepth) <= PEAK_MAX_BACKLOG) &&
      runs.every((run) => run.drainedS <= PEAK_DRAINED_WITHIN_S)
    // Counting the requests still waiting for their answer too, as Intercom sees it.
    const undelivered = Math.max(...runs.map((run) => run.maxUndelivered))
    rows.push(
      `| ${sink} | ${
        runs.map((run) => fmt(run.sent.count / ((run.sent.answeredAt - run.sent.startedAt) / 1000))).join(" / ")
      } | ${runs.map((run) => notOk(run.sent)).join(" / ")} | ${runs.map((run) => run.maxBacklog).join(" / ")} | ${
        runs.map((run) => run.maxDepth).join(" / ")
      } | ${runs.map((run) => run.maxUnanswered).join(" / ")} | ${
        runs.map((run) => fmt(run.drainedS, 1)).join(" / ")
      } | ${median(runs.map((run) => run.maxBacklog))} | ${fmt(median(runs.map((run) => run.drainedS)), 1)} | ${
        fmt(median(runs.map((run) => run.sent.p99Ms)), 1)
      } | ${met ? "met" : "NOT met"}${
        lagged > 1
          ? `; ${met ? "but " : ""}the answers fell up to ${
            fmt(lagged, 1)
          } s behind the load, and up to ${undelivered} sent were ` +
            `not yet delivered${undelivered > PEAK_MAX_BACKLOG ? ` (over ${PEAK_MAX_BACKLOG})` : ""}`
          : ""
      } |`
    )
  }
  return rows
}

/** The http target down for `outageSeconds` under a steady load, then back. */
const recoveryPart = async (work: string, secret: string, options: DrainOptions, start: StartService) => {
  console.error(`recovery: load average ${load()}`)
  const rate = options.recoveryRate
  const count = Math.round(rate * (options.beforeSeconds + options.outageSeconds + options.afterSeconds))
  const rows = [
    `Recovery: ${rate}/s for ${options.beforeSeconds + options.outageSeconds + options.afterSeconds} s, the http ` +
    `target down from ${options.beforeSeconds} s for ${options.outageSeconds} s, PROBE_INTERVAL at its default (5s); ` +
    `arrival times from the target's own clock, outbox_depth from /metrics every ${RECOVERY_METRICS_MS} ms`,
    "",
    "| round | outbox_depth at the return | s from the return to the first delivery | s until everything accepted " +
    "before the return was delivered | s until outbox_depth <= 10 | dead letters | out of order | lost | twice | " +
    "not 200 |",
    "|---|---|---|---|---|---|---|---|---|---|"
  ]
  for (let round = 1; round <= options.rounds; round++) {
    const name = `recovery${round}`
    let target = await startHttpTarget(join(work, `target-${name}-a.log`))
    const server = await start("http", { HTTP_FORWARD_URL: `http://127.0.0.1:${TARGET_PORT}/intercom` }, name)
    const requests = makeRequests(secret, name, options.keys)
    const metrics = watch(() => scrape(server.url), RECOVERY_METRICS_MS)
    const progress = { sent: 0, answered: 0, accepted: 0 }
    const sending = post(server.url, requests, range(0, count), {
      connections: PACED_CONNECTIONS,
      rate,
      progress
    })
    await sleep(options.beforeSeconds * 1000)
    const before = await target.stop()
    await sleep(options.outageSeconds * 1000)
    const sentBefore = progress.sent
    target = await startHttpTarget(join(work, `target-${name}-b.log`))
    const returned = target.listeningAt
    const sent = await sending
    const empty = await metrics.until((sample) => sample.depth === 0, 30 * 60_000)
    await metrics.stop()
    const deadLetters = (await scrape(server.url))?.deadLetters ?? Number.NaN
    await server.stop()
    const after = await target.stop()
    const check = checkArrivals([...before, ...after], requests, count, sent.accepted)
    let backlogDelivered = Number.NaN
    for (const [id, at] of after) {
      if (check.indexOf.get(id)! < sentBefore) backlogDelivered = Math.max(at, backlogDelivered || 0)
    }
    const atReturn = metrics.samples.filter((sample) => sample.at <= returned).at(-1)?.depth ?? Number.NaN
    const settled = metrics.samples.find((sample) => sample.at > returned && sample.depth <= 10)
    const figures = {
      firstS: ((after[0]?.[1] ?? Number.NaN) - returned) / 1000,
      backlogS: (backlogDelivered - returned) / 1000,
      settledS: ((settled?.at ?? Number.NaN) - returned) / 1000
    }
    console.error(
      `recovery round ${round}: outbox_depth ${atReturn} at the return; first delivery ${
        fmt(figures.firstS, 2)
      } s after it, everything sent before it delivered after ${fmt(figures.backlogS, 2)} s, outbox_depth <= 10 after ${
        fmt(figures.settledS, 2)
      } s${empty === undefined ? " (never empty)" : ""}; ${deadLetters} dead letters; ${arrivalsText(check)}; ` +
        `not 200: ${statusText(sent)}, answers p99 ${fmt(sent.p99Ms, 1)} ms; load ${load()}`
    )
    rows.push(
      `| ${round} | ${atReturn} | ${fmt(figures.firstS, 2)} | ${fmt(figures.backlogS, 2)} | ${
        fmt(figures.settledS, 2)
      } | ${deadLetters} | ${check.outOfOrder} | ${check.lost} | ${check.duplicates} | ${notOk(sent)} |`
    )
  }
  return rows
}
