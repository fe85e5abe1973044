import { assert, describe, it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { eventually } from "./support/Eventually.js"
import { loadFixtures } from "./support/Fixtures.js"
import { databaseUrl, freshDatabase, pgHost, pgPort } from "./support/Postgres.js"
import { canConnect } from "./support/Services.js"
import { startTarget } from "./support/Target.js"
import { startServer } from "./support/TestServer.js"

const root = new URL("..", import.meta.url).pathname
const fixtures = loadFixtures()
const fixture = (topic: string) => fixtures.find((candidate) => candidate.topic === topic)!
/** The PostgreSQL listing runs where PostgreSQL answers (and must, under REQUIRE_SERVICES=1: see outbox.pg.test.ts). */
const postgresUp = process.env.REQUIRE_SERVICES === "1" || await canConnect(pgHost, pgPort)

interface Run {
  readonly args: ReadonlyArray<string>
  readonly env?: Record<string, string>
  readonly input?: string
}

interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** The environment of a tool, without the settings of whoever runs the tests. */
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) =>
    !["CONFIG_FILE", "DATA_DIR", "STORE_PATH", "STORE_URL", "INTERCOM_CLIENT_SECRET", "PORT"].includes(key)
  )
)

const tool = ({ args, env = {}, input }: Run) =>
  new Promise<Result>((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", ...args],
      { cwd: root, env: { ...baseEnv, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr })
    )
    child.stdin!.end(input ?? "")
  })

/** Runs the tools, a few at a time (each is a Node process compiling TypeScript). */
const tools = (runs: ReadonlyArray<Run>) =>
  Effect.promise(async () => {
    const results: Array<Result> = []
    for (let at = 0; at < runs.length; at += 4) results.push(...await Promise.all(runs.slice(at, at + 4).map(tool)))
    return results
  })

/** Exit 2: a line saying what is wrong, then the usage line; no stack trace. */
const assertUsage = (result: Result, name: string, message: string) => {
  const context = JSON.stringify(result)
  assert.strictEqual(result.code, 2, context)
  const lines = result.stderr.trimEnd().split("\n")
  assert.strictEqual(lines.length, 2, context)
  assert.include(lines[0], `${name}: ${message}`, context)
  assert.match(lines[1]!, new RegExp(`^usage: npm run (--silent )?${name} `), context)
  assert.notInclude(result.stderr, "    at ", context)
}

/** A listed line's cells: id, dead_at, sink, reason, topic, notification id, error (which may hold spaces). */
const cells = (line: string) => {
  const [id, deadAt, sink, reason, topic, notificationId, ...error] = line.split(/ {2,}/)
  return { id: Number(id), deadAt, sink, reason, topic, notificationId, error: error.join("  ") }
}

/**
 * Three dead letters made by a running service on `store` (two deliveries its target refuses, a ping no route takes),
 * then `replay --list` with the replay options, from another process while the service runs.
 */
const listing = (store: Effect.Effect<Record<string, string>, never, Scope.Scope>) =>
  Effect.gen(function*() {
    const storeEnv = yield* store
    const target = yield* startTarget(() => 400)
    const server = yield* startServer({
      ...storeEnv,
      SINKS: "http",
      HTTP_FORWARD_URL: `${target.url}?token=s3cr3t-token`,
      ROUTES: "contacts.*=http;conversations.*=http"
    })
    const env = { DATA_DIR: server.dataDir, ...storeEnv }
    const contact = fixture("contacts.created")
    const conversation = fixture("conversations.closed")
    const before = new Date(Date.now() - 1000).toISOString()
    for (const body of [contact.bytes, conversation.bytes, fixture("ping").bytes]) {
      assert.strictEqual((yield* server.post(body)).status, 200)
    }
    yield* eventually("three dead letters", server.records("dead-letter.jsonl"), (dead) => dead.length === 3)
    const list = (...args: ReadonlyArray<string>) => ({ args: ["scripts/replay.ts", "--list", ...args], env })
    const [all, http, ping, future, two, since] = yield* tools([
      list(),
      list("--sink", "http", "--topic", "contacts.created"),
      list("--topic", "ping"),
      list("--since", "2099-01-01"),
      list("--limit", "2"),
      list("--since", before, "--topic", (conversation.json as { topic: string }).topic)
    ])
    for (const result of [all, http, ping, future, two, since]) assert.strictEqual(result!.code, 0, result!.stderr)
    const described = storeEnv.STORE_URL === undefined
      ? `SQLite at ${server.dataDir}/receiver.db`
      : `PostgreSQL at ${storeEnv.STORE_URL}`
    const lines = (result: Result) => result.stdout.trimEnd().split("\n")
    const idsOf = (result: Result) => lines(result).slice(1, -1).map((line) => cells(line).id)

    const [header, ...rows] = lines(all!)
    assert.match(header!, /^id +dead_at +sink +reason +topic +notification_id +error$/)
    assert.strictEqual(rows.pop(), `3 dead letter(s) waiting in ${described}; nothing replayed`)
    const listed = rows.map(cells)
    const ids = listed.map(({ id }) => id)
    assert.deepStrictEqual(ids, [...ids].sort((a, b) => a - b), "oldest first")
    const byTopic = (topic: string) => listed.find((row) => row.topic === topic)!
    const [contactRow, conversationRow, pingRow] = ["contacts.created", "conversations.closed", "ping"].map(byTopic)
    assert.deepStrictEqual(
      [contactRow, conversationRow, pingRow].map((row) => [row!.sink, row!.reason, row!.notificationId]),
      [
        ["http", "rejected", (contact.json as { id: string }).id],
        ["http", "rejected", (conversation.json as { id: string }).id],
        ["-", "no_route", "-"]
      ]
    )
    for (const row of listed) {
      assert.isAtLeast(new Date(row.deadAt!).getTime(), new Date(before).getTime())
      assert.isAtMost(row.error.length, 100)
    }
    assert.include(contactRow!.error, "answered 400")
    assert.include(contactRow!.error, "token=***")
    assert.strictEqual(pingRow!.error, "no rule of ROUTES matches this topic")
    assert.notInclude(all!.stdout, "s3cr3t-token")

    // The filters read as replay's: --sink takes the sink's and the sink-less ones, --topic either topic.
    assert.deepStrictEqual(idsOf(http!), [contactRow!.id])
    assert.deepStrictEqual(idsOf(ping!), [pingRow!.id])
    assert.deepStrictEqual(lines(future!), [`0 dead letter(s) waiting in ${described}; nothing replayed`])
    assert.deepStrictEqual(lines(two!).slice(1).map((line, index) => index < 2 ? cells(line).id : line), [
      ids[0],
      ids[1],
      `the oldest 2 dead letter(s) waiting in ${described}, more after them (--limit N)`
    ])
    assert.deepStrictEqual(idsOf(since!), [conversationRow!.id])

    // Nothing was replayed: the outbox is empty, and a replay finds the ping (only when given a sink).
    assert.strictEqual(yield* server.outboxDepth, 0)
    const [replayed] = yield* tools([{ args: ["scripts/replay.ts", "--sink", "http", "--topic", "ping"], env }])
    assert.include(replayed!.stdout, "replayed 1 dead letter(s)")
    const [after] = yield* tools([list()])
    assert.includeMembers(idsOf(after!), [contactRow!.id, conversationRow!.id])
    assert.notInclude(idsOf(after!), pingRow!.id, "a replayed dead letter is no longer waiting")
  })

describe("command-line tools", () => {
  it.live(
    "npm run replay refuses what it would otherwise guess at: exit 2 and the usage line",
    () =>
      Effect.gen(function*() {
        const dataDir = mkdtempSync(join(tmpdir(), "replay-"))
        writeFileSync(join(dataDir, "receiver.db"), "") // an empty file is an empty SQLite database
        const env = { DATA_DIR: dataDir }
        const cases: ReadonlyArray<[ReadonlyArray<string>, string]> = [
          [["--topic"], "--topic needs a value"],
          [["--topic", ""], "--topic needs a value"],
          [["--topic", "--sink", "http"], "--topic needs a value"],
          [["--sinks", "http"], "unknown option --sinks"],
          [["--sink", "nosuch"], "--sink must be one of console, file, http, mirror, nats, rabbitmq, redis, handlers"],
          [["--sink", "http", "--sink", "file"], "--sink is given twice"],
          [["--since", "yesterday"], "--since must be an ISO 8601 date or time"],
          [["--since", "1"], "--since must be an ISO 8601 date or time"],
          [["--since", "2026-02-31"], "--since must be an ISO 8601 date or time"],
          [["http"], "takes no arguments besides its options"],
          [["--limit", "2"], "--limit goes with --list"],
          [["--list", "--limit", "0"], "--limit must be a whole number from 1"],
          [["--list", "--limit", "2.5"], "--limit must be a whole number from 1"],
          [["--list", "--limit", "many"], "--limit must be a whole number from 1"],
          [["--list", "yes"], "takes no arguments besides its options"]
        ]
        const results = yield* tools(cases.map(([args]) => ({ args: ["scripts/replay.ts", ...args], env })))
        cases.forEach(([, message], index) => assertUsage(results[index]!, "replay", message))

        const [done, since, list] = yield* tools([
          { args: ["scripts/replay.ts", "--sink", "http"], env },
          { args: ["scripts/replay.ts", "--since", "2026-01-10T00:00:00+02:00"], env },
          { args: ["scripts/replay.ts", "--list"], env }
        ])
        assert.strictEqual(done!.code, 0, done!.stderr)
        assert.include(done!.stdout, `replayed 0 dead letter(s) from SQLite at ${dataDir}/receiver.db`)
        assert.strictEqual(since!.code, 0, since!.stderr)
        assert.strictEqual(list!.code, 0, list!.stderr)
        assert.strictEqual(
          list!.stdout,
          `0 dead letter(s) waiting in SQLite at ${dataDir}/receiver.db; nothing replayed\n`
        )
      }),
    120_000
  )

  it.live(
    "npm run replay never creates a store: a wrong DATA_DIR is exit 2; an unreachable STORE_URL exit 1",
    () =>
      Effect.gen(function*() {
        const dataDir = join(mkdtempSync(join(tmpdir(), "replay-")), "wrong")
        const [missing, unreachable, badUrl] = yield* tools([
          { args: ["scripts/replay.ts", "--sink", "http"], env: { DATA_DIR: dataDir } },
          { args: ["scripts/replay.ts"], env: { STORE_URL: "postgres://receiver:pa55-word@127.0.0.1:1/receiver" } },
          { args: ["scripts/replay.ts"], env: { STORE_URL: "mysql://receiver:pa55-word@db/receiver" } }
        ])
        assertUsage(missing!, "replay", `no store at ${dataDir}/receiver.db`)
        assert.isFalse(existsSync(dataDir), "nothing was created")

        assert.strictEqual(unreachable!.code, 1, unreachable!.stderr)
        assert.strictEqual(unreachable!.stderr.trimEnd().split("\n").length, 1, unreachable!.stderr)
        assert.include(unreachable!.stderr, "replay: ")
        assert.include(unreachable!.stderr, "ECONNREFUSED")
        assert.notInclude(unreachable!.stderr, "pa55-word")

        assertUsage(badUrl!, "replay", "Configuration error: STORE_URL must be a postgres:// or postgresql:// URL")
        assert.notInclude(badUrl!.stderr, "pa55-word")
      }),
    120_000
  )

  it.scopedLive(
    "npm run replay -- --list on SQLite: the dead letters still waiting, one a line, filtered, nothing replayed",
    () => listing(Effect.succeed({})),
    120_000
  )

  it.scopedLive.skipIf(!postgresUp)(
    "npm run replay -- --list on PostgreSQL: the same",
    () => listing(Effect.map(freshDatabase, (name) => ({ STORE_URL: databaseUrl(name) }))),
    120_000
  )

  it.live(
    "npm run send refuses a file that is not JSON without showing it, and unknown options: exit 2",
    () =>
      Effect.gen(function*() {
        const dir = mkdtempSync(join(tmpdir(), "send-"))
        const notJson = join(dir, "shadow")
        writeFileSync(notJson, "root:$6$s3cr3t-hash:19000:0:99999:7:::\n")
        const array = join(dir, "array.json")
        writeFileSync(array, "[1, 2]")
        const broken = join(dir, "broken.json")
        writeFileSync(broken, "{\n  \"topic\": \"ping\",\n  \"id\" \"s3cr3t\"\n}")
        const env = { INTERCOM_CLIENT_SECRET: "test-client-secret", PORT: "1" }
        const send = (...args: ReadonlyArray<string>) => ({ args: ["scripts/send.ts", ...args], env })
        const cases: ReadonlyArray<[Run, string]> = [
          [send("--file", notJson), `${notJson} is not JSON`],
          [send("--file", broken), `${broken} is not JSON (line 3, column 8)`],
          [send("--file", array), `${array} must hold one JSON object`],
          [send("--file", join(dir, "missing.json")), `cannot read ${join(dir, "missing.json")}: no such file`],
          [send("--file", dir), `cannot read ${dir}: not a file`],
          [send("--file"), "--file needs a value"],
          [send("ping", "--new-ids"), "unknown option --new-ids"],
          [send("ping", "--url", "ftp://example.org"), "--url must be an http:// or https:// URL"],
          [send("../../etc"), "<topic> must be a topic such as contacts.created"],
          [send("ping", "ping"), "takes at most 1 argument(s)"],
          [send(), "give a <topic> or --file"]
        ]
        const results = yield* tools(cases.map(([run]) => run))
        cases.forEach(([, message], index) => {
          assertUsage(results[index]!, "send", message)
          assert.notInclude(results[index]!.stderr, "s3cr3t")
        })

        const [unreachable] = yield* tools([send("ping")])
        assert.strictEqual(unreachable!.code, 1)
        assert.strictEqual(
          unreachable!.stderr.trim(),
          "send: cannot reach the receiver at http://127.0.0.1:1/webhooks/intercom: connect ECONNREFUSED 127.0.0.1:1"
        )
      }),
    120_000
  )

  it.live("npm run sign refuses unknown options and a missing secret: exit 2", () =>
    Effect.gen(function*() {
      const sign = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => ({
        args: ["scripts/sign.ts", ...args],
        env,
        input: "{}"
      })
      const cases: ReadonlyArray<[Run, string]> = [
        [sign(["--secrets", "s"]), "unknown option --secrets"],
        [sign(["--secret"]), "--secret needs a value"],
        [sign(["--secret", " "]), "--secret needs a value"],
        [sign(["my-client-secret"]), "takes no arguments besides its options"],
        [sign([]), "give --secret or set INTERCOM_CLIENT_SECRET"]
      ]
      const results = yield* tools(cases.map(([run]) => run))
      cases.forEach(([, message], index) => assertUsage(results[index]!, "sign", message))
      const [fromEnv] = yield* tools([sign([], { INTERCOM_CLIENT_SECRET: "my-client-secret" })])
      assert.strictEqual(fromEnv!.code, 0)
      assert.match(fromEnv!.stdout, /^sha1=[0-9a-f]{40}\n$/)
    }), 120_000)
})
