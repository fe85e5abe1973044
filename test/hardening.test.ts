import { assert, describe, it } from "@effect/vitest"
import { Console, Effect } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { request } from "node:http"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sign } from "../src/pipeline/Signature.js"
import { eventually } from "./support/Eventually.js"
import { rawExchange, statusOf } from "./support/RawHttp.js"
import { spawnService } from "./support/Service.js"
import { SECRET, startServer } from "./support/TestServer.js"

const MiB = 1024 * 1024

/** Resident memory of a process in MB: now, and its peak so far. */
const memory = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0)
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 }
}

/** A ping notification padded with spaces (insignificant JSON whitespace) to `size` bytes. */
const paddedPing = (size: number) => {
  const body = Buffer.alloc(size, 0x20)
  Buffer.from("{\"type\":\"notification_event\",\"topic\":\"ping\",\"data\":{\"item\":{\"type\":\"ping\"}}}").copy(body)
  return body
}

/** POSTs `body` with Content-Length; the status, or 0 when the server closed the connection before answering. */
const post = (url: string, body: Buffer, signature: string | null) =>
  Effect.async<number>((resume) => {
    const headers: Record<string, string> = { "content-type": "application/json", "content-length": `${body.length}` }
    if (signature !== null) headers["x-hub-signature"] = signature
    const sent = request(`${url}/webhooks/intercom`, { method: "POST", headers }, (response) => {
      response.resume()
      response.once("end", () => resume(Effect.succeed(response.statusCode ?? 0)))
    })
    sent.once("error", () => resume(Effect.succeed(0)))
    sent.end(body)
  })

const tally = (statuses: ReadonlyArray<number>) =>
  statuses.reduce<Record<number, number>>((counts, status) => ({ ...counts, [status]: (counts[status] ?? 0) + 1 }), {})

const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth)

/** `n` written with the letters a-z, so that it makes a well-formed topic word. */
const letters = (n: number): string =>
  (n < 26 ? "" : letters(Math.floor(n / 26) - 1)) + String.fromCharCode(97 + (n % 26))

describe("hardening (against anyone on the internet)", () => {
  it.scopedLive("a request without a well-formed signature is refused before its body is read", () =>
    Effect.gen(function*() {
      const service = yield* spawnService({ DATA_DIR: mkdtempSync(join(tmpdir(), "unsigned-")), SINKS: "file" })
      for (const signature of ["", "x-hub-signature: sha1=abc\r\n", "x-hub-signature: sha256=00\r\n"]) {
        const head = `POST /webhooks/intercom HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
          `content-length: ${5 * MiB}\r\n${signature}\r\n`
        // Headers and one byte of a 5 MiB body: the answer comes although the body never does.
        const exchange = yield* rawExchange(service.url, head + "{", 5000)
        assert.strictEqual(statusOf(exchange.response), 401, exchange.response)
        assert.include(exchange.response.toLowerCase(), "connection: close")
        assert.isDefined(exchange.closedAfterMs, "the connection is closed")
      }

      const before = memory(service.process.pid!)
      const statuses = yield* Effect.all(
        Array.from({ length: 100 }, () => post(service.url, paddedPing(4.9 * MiB), null)),
        { concurrency: "unbounded" }
      )
      const counts = tally(statuses)
      // A client still sending when the connection closes sees a reset instead of the 401 (status 0 here),
      // so the service's own count says whether each one was refused at its signature.
      assert.deepStrictEqual(Object.keys(counts).filter((status) => status !== "401" && status !== "0"), [])
      const metrics = yield* Effect.promise(() => fetch(`${service.url}/metrics`).then((response) => response.text()))
      const missing = /signature_failures_total\{reason="missing"\} (\d+)/.exec(metrics)?.[1]
      assert.strictEqual(Number(missing), 101, `${JSON.stringify(counts)}\n${metrics}`)
      const grown = memory(service.process.pid!).peak - before.peak
      assert.isBelow(grown, 40, `100 unsigned 4.9 MiB bodies grew the peak RSS by ${grown} MB`)
    }))

  it.scopedLive("signed or not, bodies held at once stay within BODY_BUDGET_BYTES: the rest get 503 unread", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "budget-"))
      const budget = 16 * MiB
      const service = yield* spawnService({ DATA_DIR: dataDir, SINKS: "file", BODY_BUDGET_BYTES: `${budget}` })
      const body = paddedPing(4.9 * MiB)
      const before = memory(service.process.pid!)
      // A client still sending when its 503 closes the connection may see a reset instead (status 0 here), so the
      // service's own count says how many it refused unread.
      const refusedUnread = Effect.promise(() =>
        fetch(`${service.url}/metrics`).then((response) => response.text()).then((text) =>
          Number(/over_capacity_total\{limit="body_budget"\} (\d+)/.exec(text)?.[1] ?? 0)
        )
      )
      for (const signature of ["sha1=" + "0".repeat(40), sign(SECRET, body)]) {
        const refusedBefore = yield* refusedUnread
        const statuses = yield* Effect.all(
          Array.from({ length: 60 }, () => post(service.url, body, signature)),
          { concurrency: "unbounded" }
        )
        const counts = tally(statuses)
        const refused = (yield* refusedUnread) - refusedBefore
        assert.isAbove(refused, 30, JSON.stringify(counts))
        const admitted = signature === sign(SECRET, body) ? 200 : 401
        assert.isAbove(counts[admitted] ?? 0, 0, JSON.stringify(counts))
        assert.strictEqual(
          refused + counts[admitted]!,
          60,
          `each one refused unread or admitted: ${JSON.stringify(counts)}`
        )
        assert.deepStrictEqual(
          Object.keys(counts).filter((status) => !["0", "503", `${admitted}`].includes(status)),
          []
        )
        if (admitted === 200) {
          const lines = readFileSync(join(dataDir, "events.jsonl"), "utf8").split("\n").filter((line) => line !== "")
          assert.strictEqual(lines.length, counts[200], "every 200 is recorded")
        }
      }
      const grown = memory(service.process.pid!).peak - before.peak
      // Live: the bytes held, their text and the parsed value, about three budgets; uncollected garbage can double
      // that on a busy machine. Without the budget, bodies cost about 5 MB each (300 took the service from 92 to
      // 1,577 MB), so 60 at once would pass this bound twice over.
      assert.isBelow(grown, (6 * budget) / MiB + 32, `peak RSS grew by ${grown} MB with a ${budget / MiB} MiB budget`)
      assert.strictEqual((yield* Effect.promise(() => fetch(`${service.url}/healthz`))).status, 200)
    }))

  it.scopedLive("a client that goes away mid-body gives its share of BODY_BUDGET_BYTES back", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ BODY_BUDGET_BYTES: `${MiB}`, MAX_BODY_BYTES: `${MiB}` })
      const body = paddedPing(900 * 1024)
      const signature = sign(SECRET, body)
      for (let round = 0; round < 3; round++) {
        // Declares 900 KiB of a 1 MiB budget, sends a tenth of it and goes away: nothing else fits while it holds them.
        yield* Effect.async<void>((resume) => {
          const { hostname, port } = new URL(server.baseUrl)
          const socket = connect(Number(port), hostname, () => {
            socket.write(
              `POST /webhooks/intercom HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
                `content-length: ${body.length}\r\nx-hub-signature: ${signature}\r\n\r\n`
            )
            socket.write(body.subarray(0, body.length / 10), () => setTimeout(() => socket.destroy(), 100))
          })
          socket.on("error", () => undefined)
          socket.once("close", () => resume(Effect.void))
        })
        yield* eventually(
          "the whole budget free again",
          post(server.baseUrl, body, signature),
          (status) => status === 200,
          "3 seconds"
        )
      }
    }))

  it.scopedLive("no connection over MAX_CONNECTIONS: one more is answered 503 at once and closed", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ MAX_CONNECTIONS: "3" })
      const idle = Array.from({ length: 3 }, () => rawExchange(server.baseUrl, "", 1500))
      const [over] = yield* Effect.all(
        [Effect.delay(rawExchange(server.baseUrl, "", 1000), "200 millis"), ...idle],
        { concurrency: "unbounded" }
      )
      assert.strictEqual(statusOf(over!.response), 503, over!.response)
      assert.include(over!.response.toLowerCase(), "retry-after: 10")
      assert.isDefined(over!.closedAfterMs)
      assert.isBelow(over!.closedAfterMs!, 900, "answered at once")
      yield* eventually(
        "a slot to free once a connection closes",
        server.request("/healthz"),
        (answer) => answer.status === 200,
        "3 seconds"
      )
    }))

  it.scopedLive("nesting at any depth in any position never gets a 5xx, and what is accepted is recorded unchanged", () =>
    Effect.gen(function*() {
      const captures = mkdtempSync(join(tmpdir(), "deep-captures-"))
      const server = yield* startServer({
        SINKS: "console,file",
        CONSOLE_FORMAT: "pretty",
        CAPTURE_DIR: captures
      })
      const positions: ReadonlyArray<(deep: string, n: number) => string> = [
        (deep) => deep,
        (deep) => `{"type":"notification_event","topic":${deep},"data":{"item":{"type":"ping"}}}`,
        (deep) => `{"type":${deep},"topic":"ping","data":{"item":{"type":"ping"}}}`,
        (deep, n) =>
          `{"type":"notification_event","topic":"ping","id":${deep},"data":{"item":{"type":"ping"}},"n":${n}}`,
        (deep) => `{"type":"notification_event","topic":"ping","data":${deep}}`,
        (deep) => `{"type":"notification_event","topic":"ping","data":{"item":${deep}}}`,
        (deep, n) =>
          `{"type":"notification_event","topic":"ping","id":"deep-ping-${n}","data":{"item":{"type":"ping","message":${deep}}}}`,
        (deep, n) =>
          `{"type":"notification_event","topic":"contact.user.created","id":"deep-contact-${n}","data":{"item":{"type":"contact","id":"1","custom_attributes":{"x":${deep}},"location":${deep}}}}`,
        (deep, n) =>
          `{"type":"notification_event","topic":"ticket.created","id":"deep-ticket-${n}","data":{"item":{"type":"ticket","id":"2","x":${deep}}}}`,
        (deep, n) =>
          `{"type":"notification_event","topic":"ping","id":"deep-extra-${n}","extra":${deep},"data":{"item":{"type":"ping"}}}`
      ]
      let accepted = 0
      for (const depth of [1_000, 3_000, 100_000]) {
        for (const [index, position] of positions.entries()) {
          const body = position(nested(depth), depth * 100 + index)
          const answer = yield* server.post(body)
          assert.include([200, 400], answer.status, `${depth} levels, position ${index}: ${answer.text.slice(0, 300)}`)
          if (answer.status === 200) {
            accepted++
            const lines = readFileSync(join(server.dataDir, "events.jsonl"), "utf8").split("\n")
            assert.isTrue(lines.some((line) => line.endsWith(`"payload":${body}}`)), "recorded unchanged")
          } else assert.isBelow(answer.text.length, 500, "the refusal is short, whatever the body held")
        }
      }
      assert.strictEqual(accepted, 12, "the last four positions are notifications at every depth")
    }))

  it.scopedLive("a sink that throws gets the request a 500, counted; its retry is taken, not a duplicate", () =>
    Effect.gen(function*() {
      let broken = true
      const failing = Console.setConsole({
        ...(yield* Effect.console),
        log: () =>
          Effect.sync(() => {
            if (broken) throw new Error("stdout is gone")
          })
      })
      const server = yield* startServer({ SINKS: "console" }, failing)
      const body = JSON.stringify({
        type: "notification_event",
        topic: "ping",
        id: "notif_defect",
        data: { item: { type: "ping" } }
      })
      const first = yield* server.post(body)
      assert.strictEqual(first.status, 500)
      assert.strictEqual(first.json.error, "internal_error")
      const metrics = (yield* server.request("/metrics")).text
      assert.match(metrics, /intercom_webhook_unexpected_errors_total 1\b/)
      assert.match(metrics, /intercom_webhook_requests_total\{status="500"\} 1\b/)
      broken = false
      const retry = yield* server.post(body)
      assert.strictEqual(retry.status, 200)
      assert.strictEqual(retry.json.status, "accepted")
    }))

  it.scopedLive("metric labels stay bounded whatever topics arrive", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const notification = (topic: string, index: number) =>
        JSON.stringify({ type: "notification_event", topic, id: `t-${index}`, data: { item: { type: "thing" } } })
      assert.strictEqual((yield* server.post(notification("company.created", 0))).status, 200)
      const small = (yield* server.request("/metrics")).text.length
      yield* Effect.forEach(
        Array.from({ length: 2000 }, (_, index) => index + 1),
        (index) => server.post(notification(`random.${letters(index)}.x${"y".repeat(index % 150)}`, index)),
        { concurrency: 16, discard: true }
      )
      const text = (yield* server.request("/metrics")).text
      const topics = new Set([...text.matchAll(/intercom_topic="([^"]*)"/g)].map((match) => match[1]))
      assert.isAtMost(topics.size, 22 + 100 + 1, "the known topics, at most 100 others, and other")
      assert.isTrue(topics.has("other"))
      assert.isBelow(text.length, small + 40_000, "the /metrics page does not grow with the topics")
    }), 60_000)

  it.scopedLive("slow headers and slow bodies are cut within a second of their timeouts", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ HEADERS_TIMEOUT: "2s", REQUEST_TIMEOUT: "3s" })
      const [headers, body] = yield* Effect.all([
        rawExchange(server.baseUrl, "POST /webhooks/intercom HTTP/1.1\r\nhost: x\r\n", 6000),
        rawExchange(
          server.baseUrl,
          "POST /webhooks/intercom HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" +
            "x-hub-signature: sha1=" + "0".repeat(40) + "\r\ncontent-length: 100\r\n\r\n{\"type\":",
          6000
        )
      ], { concurrency: "unbounded" })
      assert.isDefined(headers.closedAfterMs, "slow headers cut")
      assert.isDefined(body.closedAfterMs, "slow body cut")
      assert.isAtLeast(headers.closedAfterMs!, 1900)
      assert.isBelow(headers.closedAfterMs!, 3000)
      assert.isAtLeast(body.closedAfterMs!, 2900)
      assert.isBelow(body.closedAfterMs!, 4000)
    }))

  it.scopedLive("50 simultaneous copies of one id: one record, one accepted, 49 duplicates", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ SINKS: "console,file" })
      const body = JSON.stringify({
        type: "notification_event",
        topic: "ping",
        id: "notif_same",
        data: { item: { type: "ping" } }
      })
      const answers = yield* Effect.all(Array.from({ length: 50 }, () => server.post(body)), {
        concurrency: "unbounded"
      })
      const statuses = tally(answers.map((answer) => answer.status))
      assert.deepStrictEqual(statuses, { 200: 50 })
      const outcomes = answers.map((answer) => answer.json.status)
      assert.strictEqual(outcomes.filter((outcome) => outcome === "accepted").length, 1)
      assert.strictEqual(outcomes.filter((outcome) => outcome === "duplicate").length, 49)
      assert.strictEqual((yield* server.records()).length, 1)
      assert.strictEqual(server.consoleLines.length, 1)
    }))

  it.scopedLive("bodies must be UTF-8; numeric ids are deduplicated as their source text; the webhook path is matched exactly", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const invalid = Buffer.concat([
        Buffer.from(
          "{\"type\":\"notification_event\",\"topic\":\"ping\",\"data\":{\"item\":{\"type\":\"ping\",\"m\":\""
        ),
        Buffer.from([0xff, 0xfe]),
        Buffer.from("\"}}}")
      ])
      const notUtf8 = yield* server.post(invalid)
      assert.strictEqual(notUtf8.status, 400)
      assert.include(notUtf8.json.message as string, "UTF-8")

      const numeric =
        "{\"type\":\"notification_event\",\"topic\":\"ping\",\"id\":12345678901234567890,\"data\":{\"item\":{}}}"
      const first = yield* server.post(numeric)
      assert.strictEqual(first.json.status, "accepted")
      assert.strictEqual(first.json.id, "12345678901234567890", "as sent, not as a double prints it")
      assert.strictEqual((yield* server.post(numeric)).json.status, "duplicate")
      const file = readFileSync(join(server.dataDir, "events.jsonl"), "utf8")
      assert.include(file, "\"payload\":" + numeric, "the payload's number is untouched")

      for (const path of ["/WEBHOOKS/INTERCOM", "//webhooks/intercom", "/webhooks/%69ntercom", "/webhooks/intercom/"]) {
        const answer = yield* server.request(path, { method: "POST", body: "{}" })
        assert.strictEqual(answer.status, 404, path)
      }
      assert.strictEqual((yield* server.request("/webhooks/intercom?source=intercom", { method: "HEAD" })).status, 200)
    }))
})
