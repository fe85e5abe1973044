import { HttpServer } from "@effect/platform"
import { ConfigProvider, Console, Context, Effect, Layer, Logger, LogLevel } from "effect"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as App from "../../src/App.js"
import { ReceiverConfig } from "../../src/config/ReceiverConfig.js"
import { sign } from "../../src/pipeline/Signature.js"
import { Outbox } from "../../src/store/Outbox.js"

export const SECRET = "test-client-secret"

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: Record<string, unknown>
}

export interface PostOptions {
  /** Signs with this secret (default SECRET); ignored when `signature` is given. */
  readonly secret?: string
  /** The exact X-Hub-Signature value; null sends none. */
  readonly signature?: string | null
  readonly contentType?: string
  readonly method?: string
}

export interface TestServerShape {
  readonly baseUrl: string
  readonly webhookUrl: string
  readonly dataDir: string
  /** Lines the console sink printed. */
  readonly consoleLines: ReadonlyArray<string>
  /** What the service logged at WARN and above, as JSON lines. */
  readonly logs: ReadonlyArray<string>
  readonly post: (body: Uint8Array | string, options?: PostOptions) => Effect.Effect<Answer>
  readonly request: (path: string, init?: RequestInit) => Effect.Effect<Answer>
  /** Parsed records of a JSONL file under the data folder (`events.jsonl`, `dead-letter.jsonl`). */
  readonly records: (file?: string) => Effect.Effect<ReadonlyArray<Record<string, unknown>>>
  /** The store behind the server. */
  readonly outbox: Outbox["Type"]
  /** Deliveries still waiting in the outbox. */
  readonly outboxDepth: Effect.Effect<number>
}

/**
 * Starts a receiver in this process on an ephemeral port, its data in a fresh temp folder, with SINKS=file and the
 * secret SECRET unless `env` says otherwise. `extra` is provided to the app (typed handlers).
 */
export const startServer = (
  env: Record<string, string> = {},
  extra: Layer.Layer<never> = Layer.empty,
  data: "remove" | "keep" = "remove"
) =>
  Effect.gen(function*() {
    const dataDir = env.DATA_DIR ?? (yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "receiver-"))),
      (dir) => data === "keep" ? Effect.void : Effect.promise(() => rm(dir, { recursive: true, force: true }))
    ))
    const settings = {
      INTERCOM_CLIENT_SECRET: SECRET,
      HOST: "127.0.0.1",
      PORT: "0",
      DATA_DIR: dataDir,
      SINKS: "file",
      ...env
    }
    const consoleLines: Array<string> = []
    const logs: Array<string> = []
    const collecting = Logger.map(Logger.jsonLogger, (line) => void logs.push(line))
    const base = yield* Effect.console
    const capture: Console.Console = {
      ...base,
      log: (...args) => Effect.sync(() => void consoleLines.push(args.join(" ")))
    }
    const context = yield* Layer.build(
      App.layer.pipe(
        Layer.provide(extra),
        Layer.provide(ReceiverConfig.layer),
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(settings))))),
        Layer.provide(Console.setConsole(capture)),
        Layer.provide(Logger.replace(Logger.defaultLogger, collecting)),
        Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
      )
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    const outbox = Context.get(context, Outbox)
    if (address._tag !== "TcpAddress") return yield* Effect.die("expected a TCP address")
    const baseUrl = `http://127.0.0.1:${address.port}`
    const webhookUrl = baseUrl + (env.WEBHOOK_PATH ?? "/webhooks/intercom")

    const answer = (response: Response) =>
      Effect.promise(async () => {
        const text = await response.text()
        let json: Record<string, unknown> = {}
        try {
          json = JSON.parse(text)
        } catch {
          // not every answer has a JSON body (HEAD)
        }
        return { status: response.status, headers: response.headers, text, json }
      })

    const request = (path: string, init?: RequestInit) =>
      Effect.flatMap(Effect.promise(() => fetch(path.startsWith("http") ? path : baseUrl + path, init)), answer)

    const post = (body: Uint8Array | string, options: PostOptions = {}) => {
      const bytes = typeof body === "string" ? Buffer.from(body) : body
      const headers: Record<string, string> = { "content-type": options.contentType ?? "application/json" }
      const signature = options.signature === undefined ? sign(options.secret ?? SECRET, bytes) : options.signature
      if (signature !== null) headers["x-hub-signature"] = signature
      return request(webhookUrl, { method: options.method ?? "POST", headers, body: bytes })
    }

    const records = (file = "events.jsonl") =>
      Effect.promise(async () => {
        const text = await readFile(join(dataDir, file), "utf8").catch(() => "")
        // Only whole lines: a record being appended while the file is read (a long one) is not there yet.
        const whole = text.slice(0, text.lastIndexOf("\n") + 1)
        return whole.split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line))
      })

    const outboxDepth = Effect.map(Effect.orDie(outbox.depth), (depth) => depth.count)
    return {
      baseUrl,
      webhookUrl,
      dataDir,
      consoleLines,
      logs,
      post,
      request,
      records,
      outbox,
      outboxDepth
    } satisfies TestServerShape
  })

export class TestServer extends Context.Tag("TestServer")<TestServer, TestServerShape>() {
  static readonly layer = (env: Record<string, string> = {}, extra: Layer.Layer<never> = Layer.empty) =>
    Layer.scoped(TestServer, startServer(env, extra))
}
