/**
 * npm run bench -- --reconcile [--contacts N] [--rounds N] [--limit CALLS/SECONDS] [--prism]
 * A sweep over N contacts changed in the window (default 10,000) against the fake Intercom API on 127.0.0.1, applied to
 * a fresh SQLite store, in rounds: calls made, seconds, rate-limit waits, contacts written; then the same
 * window with the deletion pass (every contact listed, the mirror's compared, 1% found gone and looked up). `--limit` sets the fake's
 * rate limit (default Intercom's: 1666 calls per 10 s); `--prism` sends every call through Prism's validating proxy.
 */
import { Effect, Layer, Logger, LogLevel, Redacted } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as IntercomApi from "../../src/reconcile/IntercomApi.js"
import { emptyTally, sweep } from "../../src/reconcile/Sweep.js"
import { ReconcileStore } from "../../src/store/Reconcile.js"
import * as Store from "../../src/store/Store.js"
import { DEFAULT_RATE_LIMIT, FakeIntercom } from "../../test/support/intercom/FakeIntercom.js"
import { startPrism } from "../../test/support/intercom/Prism.js"
import { writeRelaxedSpec } from "../../test/support/intercom/Spec.js"
import { storeSettings } from "../../test/support/StoreSettings.js"
import { median } from "./median.js"

export interface ReconcileOptions {
  readonly contacts: number
  readonly rounds: number
  readonly limit: { readonly limit: number; readonly windowSeconds: number }
  readonly prism: boolean
}

export const parseReconcile = (args: ReadonlyArray<string>): ReconcileOptions => {
  const value = (name: string) => {
    const at = args.indexOf(name)
    return at === -1 ? undefined : args[at + 1]
  }
  const limit = value("--limit")
  const [calls, seconds] = (limit ?? "").split("/").map(Number)
  const options = {
    contacts: Number(value("--contacts") ?? 10_000),
    rounds: Number(value("--rounds") ?? 3),
    limit: limit === undefined ? DEFAULT_RATE_LIMIT : { limit: calls!, windowSeconds: seconds! },
    prism: args.includes("--prism")
  }
  if (
    ![options.contacts, options.rounds, options.limit.limit, options.limit.windowSeconds].every((n) =>
      Number.isInteger(n) && n > 0
    )
  ) {
    throw new Error("--contacts, --rounds take whole numbers; --limit CALLS/SECONDS, such as 1666/10")
  }
  return options
}

interface Round {
  readonly calls: number
  readonly seconds: number
  readonly waits: number
  readonly waitSeconds: number
  readonly applied: number
  readonly unchanged: number
  readonly deleted: number
}

const runRound = (
  fake: FakeIntercom,
  baseUrl: string,
  base: typeof fetch,
  deletions: boolean,
  afterFill: () => void
) =>
  Effect.scoped(Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "bench-reconcile-"))),
      (path) => Effect.sync(() => rmSync(path, { recursive: true, force: true }))
    )
    const context = yield* Layer.build(
      Store.layerWith(storeSettings({ dir }), "service").pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.None)))
    )
    const store = context.unsafeMap.get(ReconcileStore.key) as ReconcileStore["Type"]
    let waits = 0
    let waitSeconds = 0
    const api = yield* IntercomApi.make(
      { apiUrl: new URL(baseUrl), intercomVersion: "2.14" },
      { key: "default", token: Redacted.make(fake.token) },
      (seconds) => {
        waits += 1
        waitSeconds += seconds
      },
      base
    )
    const deps = { api, store, workspace: "default", persist: true, concurrency: 4 }
    const window = { since: fake.now - 60, until: fake.now, deletions }
    if (deletions) {
      // The mirror holds every contact first, a hundredth of which Intercom then no longer has.
      yield* sweep(deps, { window: { ...window, deletions: false }, phase: "contacts", cursor: null })
      afterFill()
    }
    const from = fake.requests.length
    const started = performance.now()
    const tally = yield* sweep(deps, { window, phase: "contacts", cursor: null }, emptyTally())
    const seconds = (performance.now() - started) / 1000
    return {
      calls: fake.requests.length - from,
      seconds,
      waits,
      waitSeconds,
      applied: tally.rows.intercom_contacts.applied,
      unchanged: tally.rows.intercom_contacts.unchanged,
      deleted: tally.deleted
    } satisfies Round
  }))

export const runReconcile = async (options: ReconcileOptions) => {
  const fake = await FakeIntercom.start({ wallClock: true, rateLimit: options.limit })
  const spec = options.prism ? writeRelaxedSpec() : undefined
  const prism = spec === undefined ? undefined : await startPrism({ upstream: fake.url, spec: spec.path })
  try {
    const ids = Array.from({ length: options.contacts }, (_, index) => fake.createContact({ name: `Bench ${index}` }))
    const report = async (name: string, deletions: boolean) => {
      const rounds: Array<Round> = []
      for (let round = 0; round < options.rounds; round++) {
        const gone = ids.slice(round * 100, round * 100 + Math.ceil(ids.length / 100))
        const result = await Effect.runPromise(
          runRound(fake, prism?.url ?? fake.url, prism?.fetch ?? globalThis.fetch, deletions, () => {
            for (const id of gone) fake.deleteContact(id)
          })
        )
        if (deletions) { for (const id of gone) fake.restoreContact(id) }
        rounds.push(result)
        console.error(
          `${name} round ${round + 1}: ${result.calls} calls, ${result.seconds.toFixed(2)} s, ${result.waits} ` +
            `rate-limit waits (${result.waitSeconds.toFixed(1)} s), contacts: ${result.applied} written, ` +
            `${result.unchanged} unchanged, ${result.deleted} deleted`
        )
      }
      const m = (pick: (round: Round) => number) => median(rounds.map(pick))
      console.log(
        `| ${name} | ${options.contacts} | ${m((r) => r.calls)} | ${m((r) => r.seconds).toFixed(2)} | ` +
          `${m((r) => r.waits)} (${m((r) => r.waitSeconds).toFixed(1)} s) | ${m((r) => r.applied)} | ` +
          `${m((r) => r.unchanged)} | ${m((r) => r.deleted)} |`
      )
    }
    console.log(
      `rate limit ${options.limit.limit} calls / ${options.limit.windowSeconds} s` +
        (prism === undefined ? ", direct to the fake" : ", through Prism")
    )
    console.log("| sweep | contacts changed | calls | seconds | rate-limit waits | written | unchanged | deleted |")
    console.log("|---|---|---|---|---|---|---|---|")
    await report("contacts and conversations", false)
    await report("with the deletion pass", true)
  } finally {
    await prism?.close()
    spec?.remove()
    await fake.close()
  }
}
