import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"

const root = new URL("../..", import.meta.url).pathname

export interface Service {
  readonly url: string
  readonly process: ChildProcess
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>
  readonly stderr: () => string
}

/** Runs `src/main.ts` as its own process (one process: node with tsx's loader), waiting until it listens. */
export const spawnService = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<Service>((resolve, reject) => {
        const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
          cwd: root,
          env: { ...process.env, HOST: "127.0.0.1", PORT: "0", INTERCOM_CLIENT_SECRET: "test-client-secret", ...env },
          stdio: ["ignore", "ignore", "pipe"]
        })
        let stderr = ""
        const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)))
        child.stderr!.on("data", (chunk: Buffer) => {
          stderr += chunk.toString()
          const match = /Listening on (http:\/\/[\d.]+:\d+)/.exec(stderr)
          if (match) resolve({ url: match[1]!, process: child, exited, stderr: () => stderr })
        })
        void exited.then((code) => reject(new Error(`service exited (${code}) before listening:\n${stderr}`)))
      })
    ),
    (service) =>
      Effect.promise(async () => {
        if (service.process.exitCode === null && service.process.signalCode === null) service.process.kill("SIGKILL")
        await service.exited
      })
  )

/** Ids of the records in a JSONL file of the service. */
export const recordedIds = (dataDir: string, file = "events.jsonl") =>
  Effect.promise(async () => {
    const text = await readFile(join(dataDir, file), "utf8").catch(() => "")
    // Only whole lines: the service may be writing the last one right now.
    return text.split("\n").slice(0, -1).map((line) => JSON.parse(line).id as string | null)
  })

/** SIGTERM, and the exit awaited. */
export const stopService = (service: Service) =>
  Effect.promise(async () => {
    service.process.kill("SIGTERM")
    await service.exited
  })

/** A data folder of its own under the system's temporary folder, removed with the scope. */
export const dataDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), prefix))),
    (path) => Effect.sync(() => rmSync(path, { recursive: true, force: true }))
  )

/** The service's JSON log lines (`LOG_FORMAT=json`) with this message. */
export const logLines = (service: Service, message: string) =>
  service.stderr().split("\n").filter((line) => line.includes(`"message":"${message}"`))
