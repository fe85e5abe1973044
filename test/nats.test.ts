import { describe } from "@effect/vitest"
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { brokerSuite, type Received } from "./support/BrokerSuite.js"
import { requireService } from "./support/Services.js"

const url = new URL(process.env.NATS_TEST_URL ?? "nats://127.0.0.1:4222")
const up = await requireService("NATS", url.hostname, Number(url.port || 4222))

const manager = Effect.acquireRelease(
  Effect.promise(async () => {
    const connection = await connect({ servers: url.host })
    return { connection, streams: (await jetstreamManager(connection)).streams }
  }),
  ({ connection }) => Effect.promise(() => connection.close())
)

const notFound = (error: unknown) =>
  error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound

/** A stream and a subject prefix of its own; the sink creates the stream on its first connection. */
const destination = Effect.gen(function*() {
  const { streams } = yield* manager
  const unique = `${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`
  const stream = `TEST_${unique}`
  const prefix = `test_${unique}`
  yield* Effect.addFinalizer(() => Effect.promise(() => streams.delete(stream).catch(() => false)))

  const received = Effect.promise(async (): Promise<ReadonlyArray<Received>> => {
    const info = await streams.info(stream).catch((error) => notFound(error) ? undefined : Promise.reject(error))
    if (info === undefined) return []
    const messages: Array<Received> = []
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const message = await streams.getMessage(stream, { seq })
      if (message === null) continue
      messages.push({
        body: Buffer.from(message.data),
        route: message.subject.slice(prefix.length + 1),
        intercomTopic: message.header?.get("x-intercom-topic") || undefined,
        topic: message.header?.get("x-webhook-topic") || undefined,
        id: message.header?.get("Nats-Msg-Id") || undefined,
        schema: message.header?.get("x-webhook-schema") || undefined
      })
    }
    return messages
  })

  return {
    env: (port?: number) => ({
      NATS_URL: `nats://${url.hostname}:${port ?? (url.port || 4222)}`,
      NATS_STREAM: stream,
      NATS_SUBJECT_PREFIX: prefix
    }),
    received,
    refuse: Effect.promise(() => streams.add({ name: stream, subjects: [`${prefix}.>`], max_msg_size: 16 })).pipe(
      Effect.as("message size exceeds maximum allowed")
    ),
    repair: Effect.promise(() => streams.update(stream, { max_msg_size: -1 })).pipe(Effect.asVoid)
  }
})

describe.runIf(up)("nats sink (JetStream)", () => {
  brokerSuite({ sink: "nats", host: url.hostname, port: Number(url.port || 4222), destination, duplicates: "dropped" })
})
