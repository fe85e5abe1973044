/**
 * npm run send -- <topic> [--url URL] [--secret S] [--file fixture.json] [--new-id]
 * Signs a fixture like Intercom does and POSTs it to the receiver, printing the answer.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Console, Data, Effect } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { sign } from "../src/pipeline/Signature.js"
import { canonicalTopic } from "../src/pipeline/Topics.js"

const usage = `usage: npm run send -- <topic> [--url URL] [--secret S] [--file fixture.json] [--new-id]

  <topic>         a canonical topic (contacts.created, ping, ...) or an Intercom topic (contact.user.created, ...):
                  sends a fixture of that topic from schemas/fixtures: the first sent under that Intercom topic,
                  else the first of the canonical topic with the given topic set in it
  --file F        send this file instead (its "topic" is set to <topic> when one is given)
  --url URL       default http://127.0.0.1:$PORT$WEBHOOK_PATH (PORT 8080, WEBHOOK_PATH /webhooks/intercom)
  --secret S      default: the first of INTERCOM_CLIENT_SECRET
  --new-id        give the notification a fresh id (the receiver answers "duplicate" to an id it has seen)`

class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

const args = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const at = args.indexOf(name)
  return at === -1 ? undefined : args[at + 1]
}
const flags = new Set(["--new-id", "--help", "-h"])
const positional = args.filter((arg, index) => {
  const previous = args[index - 1]
  return !arg.startsWith("-") && (previous === undefined || !previous.startsWith("-") || flags.has(previous))
})

/** The first fixture of the topic's folder that Intercom sent under this very topic string, else its first fixture. */
const fixtureFor = (topic: string): string => {
  const folder = join("schemas", "fixtures", canonicalTopic(topic) ?? topic)
  const files = readdirSync(folder).filter((name) => name.endsWith(".json")).sort().map((name) => join(folder, name))
  const file = files.find((path) => JSON.parse(readFileSync(path, "utf8")).topic === topic) ?? files[0]
  if (file === undefined) throw new Error(`no fixture in ${folder}`)
  return file
}

const program = Effect.gen(function*() {
  if (args.includes("--help") || args.includes("-h")) return yield* Console.log(usage)
  const topic = positional[0]
  const file = option("--file")
  if (topic === undefined && file === undefined) return yield* new UsageError({ message: usage })
  const secret = option("--secret") ?? process.env.INTERCOM_CLIENT_SECRET?.split(",")[0]?.trim()
  if (!secret) {
    return yield* new UsageError({ message: "give --secret or set INTERCOM_CLIENT_SECRET (the receiver's secret)" })
  }
  const url = option("--url") ??
    `http://127.0.0.1:${process.env.PORT ?? 8080}${process.env.WEBHOOK_PATH ?? "/webhooks/intercom"}`

  const path = yield* Effect.try({
    try: () => file ?? fixtureFor(topic!),
    catch: () => new UsageError({ message: `no fixture for topic ${topic}; give --file` })
  })
  const text = yield* Effect.try({
    try: () => readFileSync(path, "utf8"),
    catch: (error) => new UsageError({ message: `cannot read ${path}: ${(error as Error).message}` })
  })
  const keepTopic = topic === undefined || (file === undefined && canonicalTopic(topic) === topic)
  const newId = args.includes("--new-id")
  const body = keepTopic && !newId ? Buffer.from(text) : Buffer.from(JSON.stringify({
    ...JSON.parse(text),
    ...(keepTopic ? {} : { topic }),
    ...(newId ? { id: `notif_send_${Date.now().toString(36)}` } : {})
  }))

  const client = yield* HttpClient.HttpClient
  const response = yield* client.execute(
    HttpClientRequest.post(url).pipe(
      HttpClientRequest.setHeaders({
        "x-hub-signature": sign(secret, body),
        "user-agent": "intercom-parrot-service-client/1.0 (npm run send)"
      }),
      HttpClientRequest.bodyUint8Array(body, "application/json")
    )
  )
  yield* Console.log(`POST ${url} (${path}, ${body.length} bytes) -> ${response.status}`)
  yield* Console.log(yield* response.text)
  if (response.status >= 300) process.exitCode = 1
})

program.pipe(
  Effect.scoped,
  Effect.catchTag(
    "UsageError",
    (error) => Effect.zipRight(Console.error(error.message), Effect.sync(() => process.exitCode = 2))
  ),
  Effect.catchTag(
    "RequestError",
    (error) =>
      Effect.zipRight(
        Console.error(`cannot reach the receiver: ${error.message}`),
        Effect.sync(() => process.exitCode = 1)
      )
  ),
  Effect.provide(NodeHttpClient.layerUndici),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
