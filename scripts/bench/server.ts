/** A server under test as a child process: started on a fresh data folder, ready once /healthz stops answering 503. */
import { spawn } from "node:child_process"
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"

export interface Server {
  readonly url: string
  readonly pid: number
  readonly stop: () => Promise<void>
}

export const root = new URL("../..", import.meta.url).pathname

/** The V8 flags `npm start` gives the service (`config.nodeFlags` in package.json). */
export const nodeFlags: ReadonlyArray<string> = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).config
  .nodeFlags.split(" ").filter((flag: string) => flag.length > 0)

/** A server named on the command line of `ab.ts` or `steady-ab.ts`: `name=path[+VAR=value]...`. */
export interface ServerSpec {
  readonly name: string
  readonly path: string
  readonly env: Record<string, string>
}

export const serverSpecs = (args: ReadonlyArray<string>): Array<ServerSpec> =>
  args.map((arg) => {
    const at = arg.indexOf("=")
    const [path, ...settings] = arg.slice(at + 1).split("+") as [string, ...Array<string>]
    const env = Object.fromEntries(
      settings.map((setting) => [setting.slice(0, setting.indexOf("=")), setting.slice(setting.indexOf("=") + 1)])
    )
    return { name: arg.slice(0, at), path, env }
  })

/** The V8 flags of a spec: `npm start`'s, or `+NODE_FLAGS=a,b` in their place. */
export const flagsOf = (env: Record<string, string>): ReadonlyArray<string> =>
  env.NODE_FLAGS === undefined ? nodeFlags : env.NODE_FLAGS.split(",").filter((flag) => flag !== "")

/** Peak resident memory of a process so far, in MB. */
export const peakRss = (pid: number) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024

export interface ServerOptions {
  /** The script to run, relative to the project's root. */
  readonly script: string
  readonly port: number
  readonly flags: ReadonlyArray<string>
  /** Where the data folder is made. */
  readonly work: string
  readonly secret: string
  readonly sinks: string
  readonly env?: Record<string, string>
  /** A file for the server's stderr (its log); discarded if not given. */
  readonly stderr?: string
}

export const startServer = async (options: ServerOptions): Promise<Server> => {
  const data = mkdtempSync(join(options.work, "data-"))
  const env = {
    ...process.env,
    PORT: String(options.port),
    HOST: "127.0.0.1",
    INTERCOM_CLIENT_SECRET: options.secret,
    DATA_DIR: data,
    FILE_SINK_PATH: join(data, "events.jsonl"),
    SINKS: options.sinks,
    HTTP_FORWARD_URL: "http://127.0.0.1:9/unreachable",
    RETRY_BASE_DELAY: "10m",
    ...options.env
  }
  const log = options.stderr === undefined ? "ignore" : openSync(options.stderr, "w")
  const child = spawn(process.execPath, [...options.flags, join(root, options.script)], {
    env,
    stdio: ["ignore", "ignore", log]
  })
  if (log !== "ignore") closeSync(log)
  const url = `http://127.0.0.1:${options.port}`
  for (let attempt = 0; attempt < 100; attempt++) {
    const up = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) }).then(
      (response) => response.status !== 503,
      () => false
    )
    if (up) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => {
          rmSync(data, { recursive: true, force: true })
          resolve()
        })
        child.kill("SIGTERM")
      })
  }
}
