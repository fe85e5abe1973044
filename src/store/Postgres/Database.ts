import { Duration, Effect, Redacted } from "effect"
import pg from "pg"
import type { StoreSettings } from "../../config/ReceiverConfig.js"
import { redactor, redactUrl } from "../../config/Redact.js"
import { StoreUnavailable } from "../Outbox.js"

const INT8 = 20

/**
 * int8 as a number: sequence numbers and millisecond times stay far below 2^53, and the interface speaks numbers
 * (pg gives int8 as a string by default).
 */
const types = {
  getTypeParser:
    ((oid: number, format?: "text" | "binary") =>
      oid === INT8 ? Number : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser
}

export interface Database {
  readonly pool: pg.Pool
  /** The URL as it may be logged: without its password or secret parameters (`redactUrl`). */
  readonly shown: string
  /** One statement (with a fixed text) on any connection of the pool, committed on its own. */
  readonly query: <Row>(
    text: string,
    values?: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<Row>, StoreUnavailable>
  /** The callback form of `query`, for the group commit's plain callbacks. */
  readonly unsafeQuery: (
    text: string,
    values: ReadonlyArray<unknown>,
    done: (error: StoreUnavailable | undefined, rows: ReadonlyArray<Record<string, unknown>>) => void
  ) => void
  /**
   * Runs `work` in a transaction on one connection, with no statement timeout but `limit` (for work that may be long:
   * migrations, a large replay); any failure rolls back and drops the connection.
   */
  readonly transaction: <A>(
    limit: Duration.Duration,
    work: (
      query: (text: string, values?: ReadonlyArray<unknown>) => Promise<ReadonlyArray<Record<string, unknown>>>
    ) => Promise<A>
  ) => Effect.Effect<A, StoreUnavailable>
}

/**
 * A `pg` pool on `STORE_URL`: `STORE_POOL_SIZE` connections; a statement, a connection or a wait for one gives up after
 * `STORE_STATEMENT_TIMEOUT` (the server cancels the statement; the client gives up a second later in case the server
 * is cut off and cannot tell it). Errors never carry the password or a secret parameter, whatever pg's message holds.
 */
export const make = (config: StoreSettings, url: Redacted.Redacted<URL>) =>
  Effect.gen(function*() {
    const target = Redacted.value(url)
    const shown = redactUrl(target)
    const redact = redactor(target)
    const unavailable = (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error)
      const code = (error as { readonly code?: unknown }).code
      return new StoreUnavailable({
        message: `PostgreSQL at ${shown}: ${redact(message)}`,
        ...(typeof code === "string" ? { code } : {})
      })
    }
    const timeoutMs = Duration.toMillis(config.storeStatementTimeout)
    const pool = new pg.Pool({
      connectionString: target.toString(),
      max: config.storePoolSize,
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
      query_timeout: timeoutMs + 1000,
      idle_in_transaction_session_timeout: timeoutMs * 2,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
      application_name: "intercom-webhook-receiver",
      types
    })
    // A connection that fails while idle in the pool is dropped by the pool; the next query opens a new one.
    pool.on("error", () => undefined)
    yield* Effect.addFinalizer(() => Effect.promise(() => pool.end().catch(() => undefined)))

    // Every statement of `query` is prepared once per connection under a name of its own, so that the server parses
    // and plans it once rather than on every call.
    const names = new Map<string, string>()
    const prepared = (text: string, values: ReadonlyArray<unknown>): pg.QueryConfig => {
      let name = names.get(text)
      if (name === undefined) names.set(text, name = `receiver_${names.size + 1}`)
      return { name, text, values: values as Array<unknown> }
    }

    const unsafeQuery: Database["unsafeQuery"] = (text, values, done) =>
      void pool.query(prepared(text, values), (error, result) => {
        if (error) done(unavailable(error), [])
        else done(undefined, result.rows)
      })

    return {
      pool,
      shown,
      unsafeQuery,
      query: <Row>(text: string, values: ReadonlyArray<unknown> = []) =>
        Effect.async<ReadonlyArray<Row>, StoreUnavailable>((resume) => {
          pool.query(prepared(text, values), (error, result) => {
            if (error) resume(Effect.fail(unavailable(error)))
            else resume(Effect.succeed(result.rows as ReadonlyArray<Row>))
          })
        }),
      transaction: <A>(
        limit: Duration.Duration,
        work: (
          query: (text: string, values?: ReadonlyArray<unknown>) => Promise<ReadonlyArray<Record<string, unknown>>>
        ) => Promise<A>
      ) =>
        Effect.tryPromise({
          try: async () => {
            const client = await pool.connect()
            const ms = Duration.toMillis(limit)
            const query = (text: string, values: ReadonlyArray<unknown> = []) =>
              client.query({ text, values: values as Array<unknown>, query_timeout: ms + 1000 } as pg.QueryConfig)
                .then((result) => result.rows)
            try {
              await query("BEGIN")
              await query(`SET LOCAL statement_timeout = ${ms}`)
              const result = await work(query)
              await query("COMMIT")
              client.release()
              return result
            } catch (error) {
              client.release(error instanceof Error ? error : new Error(String(error)))
              throw error
            }
          },
          catch: unavailable
        })
    } satisfies Database
  })
