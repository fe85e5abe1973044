import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { eventually } from "./support/Eventually.js"
import { fakeIntercomBehindPrism } from "./support/intercom/Harness.js"
import { databaseUrl, freshDatabase, pgHost, pgPort, queryDatabase } from "./support/Postgres.js"
import { dataDir as dataDirOf, logLines, type Service, spawnService, stopService } from "./support/Service.js"
import { requireService } from "./support/Services.js"
import { startTcpProxy } from "./support/TcpProxy.js"

const up = await requireService("PostgreSQL", pgHost, pgPort)

const intercom = fakeIntercomBehindPrism({ wallClock: true }, up)

const root = new URL("..", import.meta.url).pathname

const dataDir = dataDirOf("reconcile-pg-")

const env = (database: string, dir: string) => ({
  STORE_URL: databaseUrl(database),
  DATA_DIR: dir,
  SINKS: "mirror",
  INTERCOM_ACCESS_TOKEN: intercom.fake.token,
  INTERCOM_API_URL: intercom.prism.url,
  RECONCILE_GAP: "2s",
  RECONCILE_INTERVAL: "off",
  RECONCILE_MARGIN: "1s",
  LOG_FORMAT: "json"
})

const stop = stopService

const count = (services: ReadonlyArray<Service>, message: string) =>
  services.flatMap((service) => logLines(service, message)).length

describe.runIf(up)("gap recovery on a PostgreSQL store shared by two instances (real processes)", () => {
  it.scopedLive(
    "both find the gap, one records it and one sweeps it; the mirror equals Intercom after",
    () =>
      Effect.gen(function*() {
        const database = yield* freshDatabase
        const [dirA, dirB] = [yield* dataDir, yield* dataDir]
        const contacts = Array.from({ length: 12 }, () => intercom.fake.createContact())
        yield* Effect.scoped(Effect.gen(function*() {
          const first = yield* Effect.all([spawnService(env(database, dirA)), spawnService(env(database, dirB))], {
            concurrency: 2
          })
          const { stdout } = yield* Effect.promise(() =>
            promisify(execFile)(process.execPath, [
              "--import",
              "tsx",
              "scripts/reconcile.ts",
              "--since",
              new Date(Date.now() - 3_600_000).toISOString()
            ], { cwd: root, env: { ...process.env, ...env(database, dirA) } })
          )
          assert.match(stdout, /contacts: +\d+ read/)
          yield* Effect.forEach(first, stop, { concurrency: 2 })
        }))
        yield* Effect.sleep("2500 millis")
        intercom.fake.updateContact(contacts[0]!, { name: "Renamed while both were down" })
        intercom.fake.deleteContact(contacts[1]!)
        const added = intercom.fake.createContact({ name: "Added while both were down" })
        yield* Effect.sleep("1200 millis")

        const both = yield* Effect.all([spawnService(env(database, dirA)), spawnService(env(database, dirB))], {
          concurrency: 2
        })
        yield* eventually("the gap's sweep", Effect.sync(() => count(both, "sweep done")), (n) => n >= 1, "30 seconds")
        yield* Effect.sleep("3 seconds")
        assert.strictEqual(count(both, "sweep started"), 1, "one instance swept the window")
        assert.strictEqual(count(both, "sweep done"), 1)
        assert.strictEqual(count(both, "a gap: no instance was alive; its changes will be read from Intercom"), 1)

        const rows = yield* queryDatabase<{ id: string; name: string | null; deleted_at: number | null }>(
          database,
          "SELECT id, name, deleted_at FROM intercom_contacts WHERE id = ANY($1) ORDER BY id",
          [[contacts[0], contacts[1], added]]
        )
        const byId = new Map(rows.map((row) => [row.id, row]))
        assert.strictEqual(byId.get(contacts[0]!)?.name, "Renamed while both were down")
        assert.isNotNull(byId.get(contacts[1]!)?.deleted_at ?? null)
        assert.strictEqual(byId.get(added)?.name, "Added while both were down")
        const [state] = yield* queryDatabase<{ watermark: number; phase: string | null }>(
          database,
          "SELECT watermark, phase FROM reconcile_state WHERE workspace = 'default'"
        )
        assert.isNull(state!.phase)
        assert.isAtLeast(Number(state!.watermark), Math.floor(Date.now() / 1000) - 60)
        yield* Effect.forEach(both, stop, { concurrency: 2 })
      }),
    120_000
  )

  it.scopedLive(
    "the sweeping instance killed half-way: the other takes the lease and resumes from the recorded cursor",
    () =>
      Effect.gen(function*() {
        const database = yield* freshDatabase
        const [dirA, dirB] = [yield* dataDir, yield* dataDir]
        const many = Array.from({ length: 1500 }, () => intercom.fake.createContact())
        yield* Effect.scoped(Effect.flatMap(spawnService(env(database, dirA)), stop))
        yield* Effect.sleep("2500 millis")
        intercom.fake.setDelay(300)
        yield* Effect.addFinalizer(() => Effect.sync(() => intercom.fake.setDelay(0)))
        const from = intercom.fake.requests.length
        const searches = () =>
          intercom.fake.requests.slice(from).filter((request) => request.path === "/contacts/search")

        const both = yield* Effect.all([spawnService(env(database, dirA)), spawnService(env(database, dirB))], {
          concurrency: 2
        })
        yield* eventually("three pages read", Effect.sync(() => searches().length), (n) => n >= 3, "60 seconds")
        const sweeper = both.find((service) => count([service], "sweep started") === 1)!
        const other = both.find((service) => service !== sweeper)!
        sweeper.process.kill("SIGKILL")
        yield* Effect.promise(() => sweeper.exited)
        const [recorded] = yield* queryDatabase<{ phase: string; cursor: string | null }>(
          database,
          "SELECT phase, cursor FROM reconcile_state WHERE workspace = 'default'"
        )
        assert.strictEqual(recorded!.phase, "contacts")
        assert.isString(recorded!.cursor)
        const killedAt = intercom.fake.requests.length

        yield* eventually(
          "the other's sweep",
          Effect.sync(() => count([other], "sweep done")),
          (n) => n >= 1,
          "60 seconds"
        )
        assert.strictEqual(count([other], "sweep resumed"), 1, "the other instance resumed the sweep")
        const doneAt = Date.parse(
          JSON.parse(other.stderr().split("\n").find((line) => line.includes(`"message":"sweep done"`))!).timestamp
        )
        const fromStart = intercom.fake.requests.slice(killedAt).filter((request) =>
          request.path === "/contacts/search" && request.at <= doneAt &&
          (request.body as { pagination?: { starting_after?: string } }).pagination?.starting_after === undefined
        )
        assert.lengthOf(fromStart, 0, "the other instance read no contact page from the start again")
        const rows = yield* queryDatabase<{ id: string }>(
          database,
          "SELECT id FROM intercom_contacts WHERE id = ANY($1)",
          [many]
        )
        assert.strictEqual(rows.length, many.length)
        yield* stop(other)
      }),
    180_000
  )

  it.scopedLive(
    "the line to the store cut for longer than RECONCILE_GAP: failed signs of life counted and logged, the time swept",
    () =>
      Effect.gen(function*() {
        const database = yield* freshDatabase
        const dir = yield* dataDir
        const proxy = yield* startTcpProxy(pgHost, pgPort)
        const service = yield* spawnService({
          ...env(database, dir),
          STORE_URL: databaseUrl(database, "127.0.0.1", proxy.port),
          STORE_STATEMENT_TIMEOUT: "500ms"
        })
        const metric = (name: string) =>
          Effect.promise(async () => {
            const text = await fetch(`${service.url}/metrics`).then((response) => response.text())
            return Number(new RegExp(`^intercom_webhook_reconcile_${name} (\\d+)$`, "m").exec(text)?.[1] ?? 0)
          })
        yield* Effect.sleep("1500 millis")
        assert.strictEqual(yield* metric("beat_failures_total"), 0)
        proxy.cut()
        yield* Effect.sleep("4 seconds")
        assert.isAtLeast(yield* metric("beat_failures_total"), 2, "each failed sign of life is counted")
        assert.isAtLeast(count([service], "could not record that this instance is alive"), 2)
        assert.strictEqual(yield* metric("gaps_total"), 0)
        proxy.restore()
        yield* eventually("the gap recorded", metric("gaps_total"), (n) => n === 1, "20 seconds")
        yield* eventually("its sweep", Effect.sync(() => count([service], "sweep done")), (n) => n >= 1, "30 seconds")
        yield* stop(service)
      }),
    60_000
  )
})
