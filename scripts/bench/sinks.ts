/**
 * npm run bench -- --sinks nats,rabbitmq,redis,mirror: the service with each broker sink, or the mirror, against its
 * own SINKS=file figure, in alternating rounds (file, nats, rabbitmq, redis, mirror, file, ...), with the brokers at
 * their local addresses (the settings' defaults) and a stream, exchange + bound queue or stream key of its own per
 * round, removed after it. Besides the accepted req/s under wrk, how fast a broker sink empties the outbox:
 * notifications published per second from the start of the load until the outbox is empty.
 */
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import amqp from "amqplib"
import { Redis } from "ioredis"
import { join } from "node:path"
import { median } from "./median.js"
import { warmCount, writeRequests } from "./requests.js"
import type { Harness } from "./stores.js"

export const brokerSinks = ["nats", "rabbitmq", "redis"] as const
export type BrokerSink = typeof brokerSinks[number]
/** Sinks `--sinks` can compare with SINKS=file: the brokers, and the mirror (its writes join the accepting commit). */
const benchSinks = [...brokerSinks, "mirror"] as const
type BenchSink = typeof benchSinks[number]
const isBroker = (sink: BenchSink): sink is BrokerSink => sink !== "mirror"

/** A round's destination at a broker: the service's settings for it, what it holds so far, and how to remove it. */
export interface Destination {
  readonly env: Record<string, string>
  /** Messages the broker holds for the round (the stream's messages, the bound queue's, the stream key's entries). */
  readonly count: () => Promise<number>
  readonly remove: () => Promise<void>
}

/** The settings that give a round a destination of its own, and how to remove it. */
export const destination = async (sink: BrokerSink, round: string): Promise<Destination> => {
  const name = `bench_${process.pid}_${round}`
  switch (sink) {
    case "nats": {
      // The service creates the stream at its first publish: until then it holds nothing.
      const connection = await connect({ servers: "127.0.0.1:4222" })
      const manager = await jetstreamManager(connection)
      return {
        env: { NATS_STREAM: name.toUpperCase(), NATS_SUBJECT_PREFIX: name },
        count: () => manager.streams.info(name.toUpperCase()).then((info) => info.state.messages, () => 0),
        remove: async () => {
          await manager.streams.delete(name.toUpperCase()).catch(() => false)
          await connection.close()
        }
      }
    }
    case "rabbitmq": {
      // A bound queue, so the broker stores every message as it would for a consumer.
      const connection = await amqp.connect("amqp://guest:guest@127.0.0.1:5672")
      const channel = await connection.createChannel()
      await channel.assertExchange(name, "topic", { durable: true })
      await channel.assertQueue(name, { durable: true })
      await channel.bindQueue(name, name, "#")
      return {
        env: { AMQP_EXCHANGE: name },
        count: () => channel.checkQueue(name).then((queue) => queue.messageCount),
        remove: async () => {
          await channel.deleteQueue(name)
          await channel.deleteExchange(name)
          await connection.close()
        }
      }
    }
    case "redis": {
      const client = new Redis("redis://127.0.0.1:6379")
      return {
        env: { REDIS_STREAM: `bench:${name}` },
        count: () => client.xlen(`bench:${name}`),
        remove: async () => {
          await client.del(`bench:${name}`)
          await client.quit()
        }
      }
    }
  }
}

const outboxDepth = async (url: string) => {
  const text = await fetch(`${url}/metrics`).then((response) => response.text())
  return Number(/^intercom_webhook_outbox_depth (\d+)/m.exec(text)?.[1] ?? Number.NaN)
}

/** What the mirror wrote, from /metrics: so a round that wrote nothing is seen. */
const mirrorWrites = async (url: string) => {
  const text = await fetch(`${url}/metrics`).then((response) => response.text())
  const written = /^intercom_webhook_mirror_writes_total\{table="intercom_conversations",outcome="(\w+)"\} (\d+)/gm
  const found = [...text.matchAll(written)].map((match) => `${match[1]} ${match[2]}`)
  return `, conversation rows written: ${found.length > 0 ? found.join(", ") : "none"}`
}

const fmt = (value: number, digits = 0) => value.toFixed(digits)

export const parseSinks = (text: string | undefined): ReadonlyArray<BenchSink> => {
  const names = (text ?? "").split(",").map((name) => name.trim()).filter((name) => name.length > 0)
  const unknown = names.filter((name) => !benchSinks.includes(name as BenchSink))
  if (names.length === 0 || unknown.length > 0) throw new Error(`--sinks takes a list of ${benchSinks.join(", ")}`)
  return names as ReadonlyArray<BenchSink>
}

export const compareSinks = async (harness: Harness, sinks: ReadonlyArray<BenchSink>) => {
  const file = join(harness.work, "sinks-requests.txt")
  const warm = join(harness.work, "sinks-warm.txt")
  const bytes = writeRequests(file, 0, 60_000, harness.secret, "sinks")
  writeRequests(warm, 0, warmCount(0), harness.secret, "warm")
  const setups = ["file", ...sinks] as const
  const results = setups.map(() => [] as Array<{ reqPerSec: number; p50Ms: number; p99Ms: number; drained: number }>)
  for (let pair = 0; pair < harness.pairs; pair++) {
    for (const [index, sink] of setups.entries()) {
      const target = sink === "file" || !isBroker(sink) ? undefined : await destination(sink, `${pair}_${index}`)
      const server = await harness.start("receiver", 18_195, sink, target?.env ?? {})
      await harness.wrkAsync(server.url, warm, 2, 32)
      const started = Date.now()
      const run = await harness.wrkAsync(server.url, file, harness.seconds, 32)
      let drained = 0
      if (target !== undefined) {
        while ((await outboxDepth(server.url)) > 0) await new Promise((resolve) => setTimeout(resolve, 50))
        drained = (run.requests + 2_000) / ((Date.now() - started) / 1000)
      }
      const mirrored = sink === "mirror" ? await mirrorWrites(server.url) : ""
      await server.stop()
      await target?.remove()
      results[index]!.push({ ...run, drained })
      console.error(
        `round ${pair + 1}: SINKS=${sink} ${fmt(run.reqPerSec)} req/s` +
          (target === undefined ? "" : `, published ${fmt(drained)}/s until the outbox was empty`) + mirrored +
          (run.non2xx > 0 ? ` (${run.non2xx} not 2xx)` : "")
      )
    }
  }
  console.log(`2.8 KB notifications (${bytes} B), wrk -c32, ${harness.seconds} s per round`)
  console.log("")
  console.log(
    "| SINKS | req/s per round | median req/s | p50 ms | p99 ms | ratio to SINKS=file | published/s until drained |"
  )
  console.log("|---|---|---|---|---|---|---|")
  for (const [index, sink] of setups.entries()) {
    const runs = results[index]!
    const ratio = median(runs.map((run, pair) => run.reqPerSec / results[0]![pair]!.reqPerSec))
    console.log(
      `| ${sink} | ${runs.map((run) => fmt(run.reqPerSec)).join(" / ")} | ${
        fmt(median(runs.map((run) => run.reqPerSec)))
      } | ${fmt(median(runs.map((run) => run.p50Ms)), 1)} | ${fmt(median(runs.map((run) => run.p99Ms)), 1)} | ${
        fmt(ratio, 2)
      } | ${sink === "file" || !isBroker(sink) ? "-" : fmt(median(runs.map((run) => run.drained)))} |`
    )
  }
}
