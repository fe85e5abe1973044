import {
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  jetstreamManager
} from "@nats-io/jetstream"
import { connect, headers, InvalidSubjectError, type NatsConnection } from "@nats-io/transport-node"
import { Duration, Effect } from "effect"
import * as Broker from "./Broker.js"
import { dedupeId } from "./HeaderValue.js"
import { metadataHeaders, type Sink } from "./Sink.js"

export interface NatsSinkOptions {
  readonly url: URL
  /** Where the URL may be shown: no password. */
  readonly target: string
  readonly stream: string
  readonly subjectPrefix: string
  readonly timeout: Duration.Duration
}

interface Held {
  readonly connection: NatsConnection
  readonly client: JetStreamClient
}

/** A refusal by JetStream's API (a 4xx other than a timeout) stays a refusal however often it is sent. */
const isRefusal = (error: unknown) =>
  error instanceof InvalidSubjectError ||
  (error instanceof JetStreamApiError && error.status >= 400 && error.status < 500 && error.status !== 408)

/** True when a stream with the subject `pattern` takes every subject `<prefix>.<...>`. */
export const covers = (pattern: string, prefix: string): boolean => {
  const wanted = prefix.split(".")
  for (const [index, token] of pattern.split(".").entries()) {
    if (token === ">") return true
    if (index >= wanted.length || (token !== "*" && token !== wanted[index])) return false
  }
  return false
}

/**
 * The stream, created with the subjects `<prefix>.>` when it does not exist. One that exists without taking those
 * subjects is a setting to fix: every publish would find no stream (JetStream's "no responders").
 */
const ensureStream = async (connection: NatsConnection, stream: string, prefix: string) => {
  const manager = await jetstreamManager(connection)
  try {
    const subjects = (await manager.streams.info(stream)).config.subjects ?? []
    if (!subjects.some((subject) => covers(subject, prefix))) {
      throw new Error(
        `the stream ${stream} exists with the subjects ${subjects.join(", ") || "(none)"}, none of which takes ` +
          `${prefix}.>: add ${prefix}.> to its subjects, or set NATS_STREAM to another stream or NATS_SUBJECT_PREFIX ` +
          "to a prefix it takes"
      )
    }
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error
    await manager.streams.add({ name: stream, subjects: [`${prefix}.>`] })
  }
}

/**
 * `nats`: publishes to JetStream on `<prefix>.<topic>` (`intercom.<topic>` by default) with `Nats-Msg-Id` = the
 * notification's dedupe id, so that the stream drops a redelivery within its duplicate window. Delivered once the stream
 * acknowledges the message.
 */
export const make = (options: NatsSinkOptions) =>
  Effect.gen(function*() {
    const failure = Broker.failure("nats", options.url, isRefusal)
    const broker = yield* Broker.connection<Held>({
      sink: "nats",
      target: options.target,
      timeout: options.timeout,
      open: Broker.opening(
        async () => {
          const connection = await connect({
            servers: options.url.host,
            ...(options.url.username === "" ? {} : {
              user: decodeURIComponent(options.url.username),
              pass: decodeURIComponent(options.url.password)
            }),
            reconnect: false,
            // Each publish would otherwise build two errors for their stack traces: 4% of a drain's time.
            noAsyncTraces: true,
            timeout: Duration.toMillis(options.timeout)
          })
          try {
            await ensureStream(connection, options.stream, options.subjectPrefix)
          } catch (error) {
            await connection.close()
            throw error
          }
          return { connection, client: jetstream(connection) }
        },
        (held) => held.connection.close()
      ).pipe(Effect.mapError(failure)),
      isOpen: (held) => !held.connection.isClosed(),
      close: (held) => Effect.promise(() => held.connection.close().catch(() => undefined))
    })
    yield* Effect.forkScoped(broker.warm)

    return {
      name: "nats",
      mode: "outbox",
      // A broker takes many publishes on one connection; its acknowledgements, not this process, set the pace.
      inFlight: 128,
      input: "bytes",
      deliver: (notification) =>
        broker.use(({ client }) => {
          const metadata = headers()
          for (const [name, value] of Object.entries(metadataHeaders(notification))) metadata.set(name, value)
          return Effect.tryPromise({
            try: () =>
              client.publish(`${options.subjectPrefix}.${Broker.routingTopic(notification)}`, notification.body, {
                headers: metadata,
                timeout: Duration.toMillis(options.timeout),
                ...(notification.id === null ? {} : { msgID: dedupeId(notification.id) })
              }),
            catch: failure
          })
        })
    } satisfies Sink
  })
