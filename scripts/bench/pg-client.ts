/**
 * npx tsx scripts/bench/pg-client.ts [--rounds N] [--ops N]
 * What @effect/sql-pg costs over the `pg` client it wraps, for the two statements the request path runs: the dedupe
 * read and a group-committed accept (one statement for a batch). Same pool, same statements, alternating rounds; the
 * figure is the Node process's CPU time per operation (the database's own work is the same for both). Runs against a
 * fresh database on PG_BENCH_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped afterwards.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer } from "effect"
import pg from "pg"
import { median } from "./median.js"

const args = process.argv.slice(2)
const option = (name: string, fallback: number) => {
  const at = args.indexOf(name)
  return at === -1 ? fallback : Number(args[at + 1])
}
const rounds = option("--rounds", 5)
const ops = option("--ops", 20_000)
const admin = process.env.PG_BENCH_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const database = `receiver_bench_${process.pid}`
const url = new URL(admin)
url.pathname = `/${database}`

const SEEN = "SELECT 1 FROM seen WHERE notification_id = $1 AND seen_at >= $2"
const ACCEPT = `WITH claimed AS (
  INSERT INTO seen (notification_id, seen_at) SELECT id, $2 FROM unnest($1::text[]) AS id
  ON CONFLICT (notification_id) DO UPDATE SET seen_at = excluded.seen_at WHERE seen.seen_at < $3
  RETURNING notification_id
), queued AS (
  INSERT INTO outbox (sink, notification_id, body, next_attempt_at)
  SELECT 'http', id, body, $2 FROM unnest($1::text[], $4::bytea[]) WITH ORDINALITY AS row (id, body, ord)
  WHERE id IN (SELECT notification_id FROM claimed) ORDER BY ord
)
SELECT notification_id FROM claimed`

const body = Buffer.alloc(2600, "x")
const BATCH = 16

/** CPU microseconds of this process per operation while `run` does `count` of them with 32 in flight. */
const measure = async (count: number, run: (index: number) => Promise<unknown>) => {
  const cpu = process.cpuUsage()
  const started = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < count) await run(next++)
  }))
  const used = process.cpuUsage(cpu)
  return { cpuUs: (used.user + used.system) / count, wallUs: ((performance.now() - started) * 1000) / count }
}

const main = async () => {
  const root = new pg.Client({ connectionString: admin })
  await root.connect()
  await root.query(`CREATE DATABASE ${database}`)
  try {
    const pool = new pg.Pool({ connectionString: url.toString(), max: 10 })
    pool.on("error", () => undefined)
    await pool.query(`CREATE TABLE seen (notification_id text PRIMARY KEY, seen_at bigint NOT NULL);
      CREATE TABLE outbox (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sink text NOT NULL,
        notification_id text, body bytea NOT NULL, next_attempt_at bigint NOT NULL)`)
    const sql = await Effect.runPromise(
      Effect.provide(SqlClient.SqlClient, PgClient.layerFromPool({ acquire: Effect.succeed(pool) }).pipe(Layer.orDie))
    )
    let batchId = 0
    const ids = () => Array.from({ length: BATCH }, (_, index) => `n-${batchId}-${index}`)
    const clients = {
      pg: {
        seen: (index: number) => pool.query(SEEN, [`n-${index}`, 0]),
        accept: () => pool.query(ACCEPT, [ids(), Date.now(), 0, Array.from({ length: BATCH }, () => body)])
      },
      "@effect/sql-pg": {
        seen: (index: number) => Effect.runPromise(sql.unsafe(SEEN, [`n-${index}`, 0])),
        accept: () =>
          Effect.runPromise(
            sql.unsafe(ACCEPT, [ids(), Date.now(), 0, Array.from({ length: BATCH }, () => body)])
          )
      }
    }
    const results: Record<string, { seen: Array<number>; accept: Array<number> }> = {}
    for (let round = 0; round < rounds; round++) {
      for (const [name, client] of Object.entries(clients)) {
        const seen = await measure(ops, client.seen)
        const accept = await measure(Math.floor(ops / 20), () => (batchId++, client.accept()))
        const entry = (results[name] ??= { seen: [], accept: [] })
        entry.seen.push(seen.cpuUs)
        entry.accept.push(accept.cpuUs)
        console.error(
          `round ${round + 1} ${name}: read ${seen.cpuUs.toFixed(1)} µs CPU (${seen.wallUs.toFixed(1)} wall), ` +
            `accept of ${BATCH} ${accept.cpuUs.toFixed(1)} µs CPU (${accept.wallUs.toFixed(1)} wall)`
        )
      }
    }
    console.log(`| client | dedupe read, µs CPU per query | accept of ${BATCH} in one statement, µs CPU |`)
    console.log("|---|---|---|")
    for (const [name, { accept, seen }] of Object.entries(results)) {
      console.log(
        `| ${name} | ${seen.map((v) => v.toFixed(0)).join(" / ")} (median ${median(seen).toFixed(0)}) | ${
          accept.map((v) => v.toFixed(0)).join(" / ")
        } (median ${median(accept).toFixed(0)}) |`
      )
    }
    await pool.end()
  } finally {
    await root.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    await root.end()
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
