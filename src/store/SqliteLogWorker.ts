import { Effect, type Scope } from "effect"
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"
import { StoreUnavailable } from "./Outbox.js"

/**
 * The thread that owns the notification log's SQLite file: its writes (a few thousand rows a second, bodies included)
 * and its reads run there, never on the event loop that answers Intercom. Plain CommonJS run with `eval`, so that it is
 * the same code under tsx, in the bundle and in the package; better-sqlite3 is loaded from the path the main thread
 * resolves. Its page cache is SQLite's default 2 MB, not the 16 MB better-sqlite3 builds in: the log is appended to and
 * read by index, and the larger cache cost the process its size in resident memory.
 */
const SOURCE = `"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
db.pragma("cache_size = -2000");
for (const statement of workerData.migration) db.exec(statement);
const insert = db.prepare(workerData.insert);
const count = db.prepare(workerData.count);
const write = db.transaction((entries, counts, bytes) => {
  const bodies = Buffer.from(bytes);
  for (const entry of entries) {
    const start = entry[entry.length - 2];
    const end = entry[entry.length - 1];
    insert.run(entry.slice(0, -2).concat([bodies.subarray(start, end)]));
  }
  for (const row of counts) count.run(row);
});
const statements = new Map();
const prepared = (sql) => {
  let statement = statements.get(sql);
  if (statement === undefined) {
    statement = db.prepare(sql);
    if (statements.size < 200) statements.set(sql, statement);
  }
  return statement;
};
parentPort.on("message", (message) => {
  try {
    const value = message.op === "write"
      ? write(message.entries, message.counts, message.bodies)
      : message.op === "all"
      ? prepared(message.sql).all(message.params)
      : prepared(message.sql).run(message.params).changes;
    parentPort.postMessage({ id: message.id, value: value === undefined ? null : value });
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: String(error && error.message || error) });
  }
});
parentPort.postMessage({ id: 0, value: "ready" });
`

export interface LogWorkerOptions {
  readonly path: string
  readonly busyTimeoutMs: number
  /** Statements run once at start (`CREATE ... IF NOT EXISTS`). */
  readonly migration: ReadonlyArray<string>
  /** The insert of one entry and the count of one minute, with positional parameters. */
  readonly insert: string
  readonly count: string
}

export type LogWorkerMessage =
  | {
    readonly op: "write"
    /** Each entry's values but its body, then where its body starts and ends in `bodies`. */
    readonly entries: ReadonlyArray<ReadonlyArray<unknown>>
    /** Every body of the batch, one after the other: moved to the thread, not copied. */
    readonly bodies: ArrayBuffer
    readonly counts: ReadonlyArray<ReadonlyArray<unknown>>
  }
  | { readonly op: "all" | "run"; readonly sql: string; readonly params: ReadonlyArray<unknown> }

export interface LogWorker {
  /** Sends one message; its answer (rows, changes) or the failure the thread reported. */
  readonly call: <A>(message: LogWorkerMessage) => Effect.Effect<A, StoreUnavailable>
}

interface Pending {
  readonly resume: (result: Effect.Effect<unknown, StoreUnavailable>) => void
}

/**
 * The log's thread for the scope. A thread that stops (a crash, a failed start) fails the calls it held and is started
 * again by the next call.
 */
export const startLogWorker = (options: LogWorkerOptions): Effect.Effect<LogWorker, never, Scope.Scope> =>
  Effect.gen(function*() {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3")
    const pending = new Map<number, Pending>()
    let next = 1
    let closed = false
    let current: { readonly worker: Worker; readonly ready: Promise<void> } | undefined

    const failAll = (message: string) => {
      for (const { resume } of pending.values()) resume(Effect.fail(new StoreUnavailable({ message })))
      pending.clear()
    }
    const start = () => {
      const worker = new Worker(SOURCE, { eval: true, workerData: { ...options, driver } })
      const ready = new Promise<void>((resolve, reject) => {
        worker.on("message", (message: { id: number; value?: unknown; error?: string }) => {
          if (message.id === 0) return resolve()
          const waiting = pending.get(message.id)
          if (waiting === undefined) return
          pending.delete(message.id)
          waiting.resume(
            message.error === undefined
              ? Effect.succeed(message.value)
              : Effect.fail(new StoreUnavailable({ message: `notification log: ${message.error}` }))
          )
        })
        worker.once("error", (error) => {
          reject(error)
          if (current?.worker === worker) current = undefined
          failAll(`the notification log's thread failed: ${error.message}`)
        })
        worker.once("exit", (code) => {
          reject(new Error(`exited with code ${code}`))
          if (current?.worker === worker) current = undefined
          failAll(`the notification log's thread stopped (exit code ${code})`)
        })
      })
      ready.catch(() => undefined)
      return current = { worker, ready }
    }

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        closed = true
        const running = current
        current = undefined
        if (running !== undefined) await running.worker.terminate()
      })
    )

    const call = <A>(message: LogWorkerMessage) =>
      Effect.async<A, StoreUnavailable>((resume) => {
        if (closed) return resume(Effect.fail(new StoreUnavailable({ message: "the notification log is closed" })))
        const running = current ?? start()
        const id = next++
        pending.set(id, { resume: resume as Pending["resume"] })
        running.ready.then(
          () => running.worker.postMessage({ ...message, id }, message.op === "write" ? [message.bodies] : []),
          (error: Error) => {
            if (!pending.delete(id)) return
            resume(Effect.fail(new StoreUnavailable({ message: `cannot open the notification log: ${error.message}` })))
          }
        )
      })
    return { call }
  })
