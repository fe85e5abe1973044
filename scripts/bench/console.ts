/**
 * npm run bench -- --console [--rows N] [--store sqlite|postgres] [--rounds N]
 * The console's pages on a store holding N notifications (default 1,000,000) in its log, seven days of them, real
 * notifications from the test corpus with ids, contacts and conversations of their own, plus 10,000 dead letters and a
 * week of per-minute counts: the service started on that store, each page fetched `--rounds` times (default 7) as an
 * operator's browser would (Bearer token, HTML), its median and slowest time reported.
 */
import { Duration, Effect, Layer, Logger, LogLevel } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import type { StoreSettings } from "../../src/config/ReceiverConfig.js"
import { deliveryKey } from "../../src/pipeline/DeliveryKey.js"
import type { NotificationBytes } from "../../src/pipeline/Notification.js"
import { canonicalTopic } from "../../src/pipeline/Topics.js"
import {
  type LogEntry,
  type MinuteCount,
  NotificationLogStore,
  trafficOutcomes
} from "../../src/store/NotificationLog.js"
import { Outbox } from "../../src/store/Outbox.js"
import * as Store from "../../src/store/Store.js"
import { corpusDir, loadFixtures } from "../../test/support/Fixtures.js"
import { storeSettings } from "../../test/support/StoreSettings.js"
import { median } from "./median.js"
import { nodeFlags, startServer } from "./server.js"

export interface ConsoleBenchOptions {
  readonly rows: number
  readonly store: "sqlite" | "postgres"
  readonly rounds: number
}

export const parseConsoleBench = (args: ReadonlyArray<string>): ConsoleBenchOptions => {
  const value = (name: string) => {
    const at = args.indexOf(name)
    return at === -1 ? undefined : args[at + 1]
  }
  const options = {
    rows: Number(value("--rows") ?? 1_000_000),
    store: (value("--store") ?? "sqlite") as "sqlite" | "postgres",
    rounds: Number(value("--rounds") ?? 7)
  }
  if (
    !Number.isInteger(options.rows) || options.rows < 1000 || !Number.isInteger(options.rounds) || options.rounds < 1
  ) {
    throw new Error("--rows takes a whole number of at least 1000, --rounds a whole number")
  }
  if (options.store !== "sqlite" && options.store !== "postgres") throw new Error("--store takes sqlite or postgres")
  return options
}

const TOKEN = "bench-console-token-0123456789"
const WEEK = 7 * 86_400_000
const BATCH = 1000
const CONTACTS = 100_000
const CONVERSATIONS = 50_000

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The i-th notification: a corpus notification made its own (id, item id), received at its place in the week. */
const notificationAt = (
  templates: ReadonlyArray<Record<string, unknown>>,
  index: number,
  rows: number,
  now: number
): NotificationBytes => {
  const template = templates[index % templates.length]!
  const payload = structuredClone(template)
  const id = `notif_bench_${index.toString(36)}`
  payload.id = id
  const data = payload.data as Record<string, unknown>
  const item = isObject(data.item) ? data.item : {}
  const conversation = typeof item.type === "string" && item.type === "conversation"
  if (conversation) item.id = `conv${(index * 7919) % CONVERSATIONS}`
  else if (isObject(item.contact)) item.contact.id = `c${(index * 104_729) % CONTACTS}`
  else if (isObject(item.user)) item.user.id = `c${(index * 104_729) % CONTACTS}`
  else item.id = `c${(index * 104_729) % CONTACTS}`
  const topic = String(payload.topic)
  // Several a millisecond now and then: the pages' order and paging must hold with ties.
  const receivedAt = now - WEEK + Math.floor((index * WEEK) / rows / 2) * 2
  return {
    receivedAt: new Date(receivedAt),
    topic: canonicalTopic(topic),
    intercomTopic: topic,
    id,
    appId: typeof payload.app_id === "string" ? payload.app_id : null,
    body: Buffer.from(JSON.stringify(payload)),
    deliveryKey: deliveryKey(payload, id, topic),
    schemaMismatch: index % 100 === 0 ? "data.item.email must be a string, got a number" : undefined
  }
}

const settings = (dir: string, url: string | undefined): StoreSettings =>
  storeSettings(url === undefined ? { dir } : { url }, {
    storeBusyTimeoutMs: 5000,
    storePoolSize: 4,
    storeStatementTimeout: Duration.seconds(60),
    outboxMaxRows: 1_000_000
  })

/** Fills the log (and 10,000 dead letters, a week of counts) through the store's own writes. */
const seed = (config: StoreSettings, rows: number, now: number) =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(
      Store.layerWith(config, "tool").pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.None)))
    )
    const log = context.unsafeMap.get(NotificationLogStore.key) as NotificationLogStore["Type"]
    const outbox = context.unsafeMap.get(Outbox.key) as Outbox["Type"]
    const templates = loadFixtures(corpusDir).map((fixture) => fixture.json as Record<string, unknown>)
    const started = performance.now()
    for (let from = 0; from < rows; from += BATCH) {
      const entries: Array<LogEntry> = []
      for (let index = from; index < Math.min(rows, from + BATCH); index++) {
        entries.push({
          notification: notificationAt(templates, index, rows, now),
          outcome: "accepted",
          sinks: ["http"]
        })
      }
      const minutes: Array<MinuteCount> = []
      if (from === 0) {
        for (let minute = now - WEEK; minute < now; minute += 60_000) {
          const start = Math.floor(minute / 60_000) * 60_000
          for (const outcome of trafficOutcomes) minutes.push({ minute: start, outcome, count: 1 + (start % 7) })
        }
      }
      yield* log.write(entries, minutes)
      if (from % 100_000 === 0) console.error(`  ${from} of ${rows} written`)
    }
    for (let index = 0; index < 10_000; index++) {
      yield* outbox.addDeadLetter(notificationAt(templates, index * 97, rows, now), "no_route", "no rule matches")
    }
    console.error(`seeded ${rows} notifications in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }))

const time = async (url: string) => {
  const started = performance.now()
  const response = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}`, accept: "text/html" } })
  const body = await response.text()
  return { ms: performance.now() - started, status: response.status, bytes: body.length }
}

/** How many notifications a listing page shows (from its JSON), or "" for another page. */
const listed = async (base: string, path: string) => {
  if (!path.startsWith("/notifications?") && path !== "/notifications") return ""
  const response = await fetch(`${base}/api${path}`, {
    headers: { authorization: `Bearer ${TOKEN}`, accept: "application/json" }
  })
  return String(((await response.json()) as { rows: ReadonlyArray<unknown> }).rows.length)
}

export const runConsoleBench = async (work: string, options: ConsoleBenchOptions) => {
  const now = Date.now()
  const dir = mkdtempSync(join(tmpdir(), "bench-console-"))
  const database = `bench_console_${process.pid}`
  const admin = process.env.PG_BENCH_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
  const url = options.store === "postgres"
    ? Object.assign(new URL(admin), { pathname: `/${database}` }).toString()
    : undefined
  const adminQuery = async (sql: string) => {
    const client = new pg.Client({ connectionString: admin })
    await client.connect()
    await client.query(sql).finally(() => client.end())
  }
  if (url !== undefined) await adminQuery(`CREATE DATABASE ${database}`)
  try {
    const config = settings(dir, url)
    await Effect.runPromise(seed(config, options.rows, now))
    const templates = loadFixtures(corpusDir).map((fixture) => fixture.json as Record<string, unknown>)
    const middle = notificationAt(templates, Math.floor(options.rows / 2), options.rows, now)
    const entity = middle.deliveryKey
    const server = await startServer({
      script: "dist/bundle/main.mjs",
      port: 18_290,
      flags: nodeFlags,
      work,
      secret: "bench-secret",
      sinks: "http",
      env: {
        CONSOLE_TOKEN: TOKEN,
        CONSOLE_PORT: "18291",
        NOTIFICATION_LOG_MAX_ROWS: String(options.rows * 2),
        ...(url === undefined ? { STORE_PATH: config.storePath } : { STORE_URL: url })
      }
    })
    try {
      const base = "http://127.0.0.1:18291"
      const first = await fetch(
        `${base}/api/notifications?after=${middle.receivedAt.getTime()}.${Number.MAX_SAFE_INTEGER}`,
        {
          headers: { authorization: `Bearer ${TOKEN}`, accept: "application/json" }
        }
      ).then((response) => response.json() as Promise<{ rows: ReadonlyArray<{ seq: number }> }>)
      const seq = first.rows[0]?.seq ?? 1
      const day = new Date(now - 3 * 86_400_000)
      const pages: ReadonlyArray<readonly [string, string]> = [
        ["overview", "/"],
        ["overview data (polled)", "/api/overview"],
        ["notifications, newest", "/notifications"],
        [
          "notifications of a contact or conversation (bare id)",
          `/notifications?q=${encodeURIComponent(entity.split(":")[1]!)}`
        ],
        ["notifications of an entity (prefix)", `/notifications?q=${encodeURIComponent(entity)}`],
        ["a notification id", `/notifications?q=${encodeURIComponent(`id:${middle.id}`)}`],
        ["a canonical topic", "/notifications?q=topic:contacts.deleted"],
        ["an Intercom topic", "/notifications?q=conversation.admin.closed"],
        [
          "an hour three days ago",
          `/notifications?since=${day.toISOString()}&until=${new Date(day.getTime() + 3_600_000).toISOString()}`
        ],
        [
          "a page half-way down (after=)",
          `/notifications?after=${middle.receivedAt.getTime()}.${Number.MAX_SAFE_INTEGER}`
        ],
        ["one notification", `/notifications/${seq}`],
        ["dead letters", "/dead-letters"]
      ]
      console.log(
        `\nconsole pages on ${options.store}, ${
          options.rows.toLocaleString("en")
        } notifications in the log, ${options.rounds} fetches each`
      )
      console.log("| page | median ms | slowest ms | status | rows listed |\n|---|---|---|---|---|")
      for (const [name, path] of pages) {
        const runs = []
        for (let round = 0; round < options.rounds; round++) runs.push(await time(`${base}${path}`))
        const ms = runs.map((run) => run.ms)
        console.log(
          `| ${name} | ${median(ms).toFixed(1)} | ${Math.max(...ms).toFixed(1)} | ${runs[0]!.status} | ${await listed(
            base,
            path
          )} |`
        )
      }
    } finally {
      await server.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
    if (url !== undefined) await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  }
}
