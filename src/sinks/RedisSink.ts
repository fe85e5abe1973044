import { Duration, Effect, Option } from "effect"
import { Redis } from "ioredis"
import { asBuffer, type Notification } from "../pipeline/Notification.js"
import * as Broker from "./Broker.js"
import { type Sink, SinkError } from "./Sink.js"

export interface RedisSinkOptions {
  readonly url: URL
  /** Where the URL may be shown: no password. */
  readonly target: string
  readonly stream: string
  /** Trims the stream to about this many entries (`MAXLEN ~`); absent: unbounded. */
  readonly maxLen: Option.Option<number>
  readonly timeout: Duration.Duration
}

/** Replies that say the server cannot take the command now, rather than that the command is wrong. */
const TRANSIENT = /^(OOM|LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS|MISCONF|NOAUTH|WRONGPASS)\b/

const isRefusal = (error: unknown) =>
  error instanceof Error && error.name === "ReplyError" && !TRANSIENT.test(error.message)

/** `topic`, `intercom_topic`, `id`, `schema` (each only when it applies, like the `http` sink's headers), `body`. */
const fields = (notification: Notification): Array<string | Buffer> => [
  ...(notification.topic === null ? [] : ["topic", notification.topic]),
  "intercom_topic",
  notification.intercomTopic,
  ...(notification.id === null ? [] : ["id", notification.id]),
  ...(notification.schemaMismatch === undefined ? [] : ["schema", "mismatch"]),
  "body",
  asBuffer(notification.body)
]

/** `redis`: `XADD`s each notification to a stream; delivered once Redis answers with the entry's id. */
export const make = (options: RedisSinkOptions) =>
  Effect.gen(function*() {
    const failure = Broker.failure("redis", options.url, isRefusal)
    const explained = Broker.explain(options.url)
    const trim = Option.match(options.maxLen, { onNone: () => [], onSome: (n) => ["MAXLEN", "~", String(n)] })
    const broker = yield* Broker.connection<Redis>({
      sink: "redis",
      target: options.target,
      timeout: options.timeout,
      open: Broker.opening(
        async () => {
          // Reconnecting is the sink's, once per failed delivery: the client itself never retries or queues.
          const client = new Redis(options.url.toString(), {
            lazyConnect: true,
            enableOfflineQueue: false,
            maxRetriesPerRequest: 0,
            retryStrategy: () => null,
            connectTimeout: Duration.toMillis(options.timeout)
          })
          client.on("error", () => undefined)
          try {
            await client.connect()
          } catch (error) {
            client.disconnect()
            throw error
          }
          return client
        },
        (client) => client.disconnect()
      ).pipe(
        Effect.mapError((error) => SinkError.unavailable("redis", explained(error)))
      ),
      isOpen: (client) => client.status === "ready",
      close: (client) => Effect.sync(() => client.disconnect())
    })
    yield* Effect.forkScoped(broker.warm)

    return {
      name: "redis",
      mode: "outbox",
      // A broker takes many publishes on one connection; its acknowledgements, not this process, set the pace.
      inFlight: 128,
      input: "bytes",
      deliver: (notification) =>
        broker.use((client) =>
          Effect.tryPromise({
            try: () => client.xadd(options.stream, ...trim, "*", ...fields(notification)),
            catch: failure
          })
        ).pipe(Effect.asVoid)
    } satisfies Sink
  })
