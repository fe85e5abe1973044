/**
 * npm run send -- <topic> [--url URL] [--secret S] [--file fixture.json] [--new-id]
 * Signs a fixture like Intercom does and POSTs it to the receiver, printing the answer.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Console, Data, Effect } from "effect"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { parseJson } from "../src/config/JsonText.js"
import { redactText, redactUrl } from "../src/config/Redact.js"
import { sign } from "../src/pipeline/Signature.js"
import { canonicalTopic } from "../src/pipeline/Topics.js"
import { main, UsageError } from "./cli/Args.js"

const command = {
  name: "send",
  usage: "usage: npm run send -- <topic> [--url URL] [--secret S] [--file fixture.json] [--new-id]",
  help:
    `  <topic>         a canonical topic (contacts.created, ping, ...) or an Intercom topic (contact.user.created, ...):
                  sends a fixture of that topic from schemas/fixtures: the first sent under that Intercom topic,
                  else the first of the canonical topic with the given topic set in it
  --file F        send this file instead, a JSON notification (its "topic" is set to <topic> when one is given)
  --url URL       default http://127.0.0.1:$PORT$WEBHOOK_PATH (PORT 8080, WEBHOOK_PATH /webhooks/intercom)
  --secret S      default: the first of INTERCOM_CLIENT_SECRET
  --new-id        give the notification a fresh id (the receiver answers "duplicate" to an id it has seen)
Exit code: 0 the receiver answered 2xx, 1 it did not (or could not be reached), 2 usage (a wrong option or file).`,
  options: { url: "string", secret: "string", file: "string", "new-id": "boolean" },
  positionals: 1
} as const

class Unreachable extends Data.TaggedError("Unreachable")<{ readonly message: string }> {}

const TOPIC = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/

/** The first fixture of the topic's folder that Intercom sent under this very topic string, else its first fixture. */
const fixtureFor = (topic: string) =>
  Effect.try({
    try: () => {
      const folder = join("schemas", "fixtures", canonicalTopic(topic) ?? topic)
      const files = readdirSync(folder).filter((name) => name.endsWith(".json")).sort().map((name) =>
        join(folder, name)
      )
      const file = files.find((path) => JSON.parse(readFileSync(path, "utf8")).topic === topic) ?? files[0]
      if (file === undefined) throw new Error(`no fixture in ${folder}`)
      return file
    },
    catch: () => new UsageError({ message: `no fixture for topic ${topic}; give --file` })
  })

const reason = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code
  return code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code ?? "not a file"
}

/** The innermost cause's message: undici's own says only "fetch failed". */
const rootCause = (error: unknown): string => {
  const cause = (error as { cause?: unknown }).cause
  return cause !== undefined && cause !== null
    ? rootCause(cause)
    : error instanceof Error
    ? error.message
    : String(error)
}

/** The file's bytes and its JSON object; anything else is refused, naming the file and never quoting it. */
const readNotification = (path: string) =>
  Effect.gen(function*() {
    const bytes = yield* Effect.try({
      try: () => {
        if (!statSync(path).isFile()) throw new Error("not a file")
        return readFileSync(path)
      },
      catch: (error) => new UsageError({ message: `cannot read ${path}: ${reason(error)}` })
    })
    const parsed = parseJson(bytes.toString("utf8"))
    if (parsed._tag === "Left") {
      return yield* new UsageError({ message: `${path} ${parsed.left}: give a notification as JSON` })
    }
    const json = parsed.right
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      return yield* new UsageError({ message: `${path} must hold one JSON object, a notification` })
    }
    return { bytes, json }
  })

main(command, ({ options, positionals }) =>
  Effect.gen(function*() {
    const topic = positionals[0]
    const file = options.file
    if (topic === undefined && file === undefined) return yield* new UsageError({ message: "give a <topic> or --file" })
    if (topic !== undefined && !TOPIC.test(topic)) {
      return yield* new UsageError({ message: `<topic> must be a topic such as contacts.created, got "${topic}"` })
    }
    const secret = options.secret ?? process.env.INTERCOM_CLIENT_SECRET?.split(",")[0]?.trim()
    if (!secret) {
      return yield* new UsageError({ message: "give --secret or set INTERCOM_CLIENT_SECRET (the receiver's secret)" })
    }
    const url = options.url ??
      `http://127.0.0.1:${process.env.PORT ?? 8080}${process.env.WEBHOOK_PATH ?? "/webhooks/intercom"}`
    if (!URL.canParse(url) || !["http:", "https:"].includes(new URL(url).protocol)) {
      return yield* new UsageError({ message: `--url must be an http:// or https:// URL, got "${redactUrl(url)}"` })
    }

    const path = file ?? (yield* fixtureFor(topic!))
    const { bytes, json } = yield* readNotification(path)
    const keepTopic = topic === undefined || (file === undefined && canonicalTopic(topic) === topic)
    const newId = options["new-id"] === true
    const body = keepTopic && !newId ? bytes : Buffer.from(JSON.stringify({
      ...json,
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
    ).pipe(
      Effect.catchTag("RequestError", (error) =>
        Effect.fail(
          new Unreachable({
            message: `cannot reach the receiver at ${redactUrl(url)}: ${redactText(rootCause(error))}`
          })
        ))
    )
    yield* Console.log(`POST ${redactUrl(url)} (${path}, ${body.length} bytes) -> ${response.status}`)
    yield* Console.log(yield* response.text)
    if (response.status >= 300) {
      process.exitCode = 1
    }
  }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))
