import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import pg from "pg"

/** The PostgreSQL the suites that need one use: a role allowed to create and drop databases. */
export const PG_TEST_URL = process.env.PG_TEST_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"

const admin = new URL(PG_TEST_URL)
export const pgHost = admin.hostname
export const pgPort = Number(admin.port || 5432)

const withAdmin = <A>(work: (client: pg.Client) => Promise<A>) =>
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: PG_TEST_URL })
    client.on("error", () => undefined)
    await client.connect()
    try {
      return await work(client)
    } finally {
      await client.end()
    }
  })

/** `url` with another database. */
export const databaseUrl = (name: string, host = pgHost, port = pgPort): string => {
  const url = new URL(PG_TEST_URL)
  url.hostname = host
  url.port = String(port)
  url.pathname = `/${name}`
  return url.toString()
}

/**
 * A database of its own for one test, with a unique name, dropped when the scope closes, whatever the outcome
 * (connections still open to it are ended). Yields its name.
 */
export const freshDatabase = Effect.acquireRelease(
  Effect.suspend(() => {
    const name = `receiver_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`
    return withAdmin((client) => client.query(`CREATE DATABASE ${name}`)).pipe(Effect.as(name))
  }),
  (name) => withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
)

/** Runs one statement on a test database. */
export const queryDatabase = <Row>(name: string, text: string, values: ReadonlyArray<unknown> = []) =>
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: databaseUrl(name) })
    client.on("error", () => undefined)
    await client.connect()
    try {
      return (await client.query(text, values as Array<unknown>)).rows as ReadonlyArray<Row>
    } finally {
      await client.end()
    }
  })
