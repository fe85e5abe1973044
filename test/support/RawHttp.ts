import { Effect } from "effect"
import { connect } from "node:net"

export interface RawExchange {
  /** Everything the server wrote before it closed the connection (or before `waitMs`). */
  readonly response: string
  /** Milliseconds from connecting until the server closed the connection; undefined if it was still open. */
  readonly closedAfterMs: number | undefined
}

/**
 * Opens a TCP connection to `url`'s host and port, writes `data` (and nothing more, whatever it announces), and
 * collects what comes back until the server closes the connection or `waitMs` passes.
 */
export const rawExchange = (url: string, data: string | Buffer, waitMs: number) =>
  Effect.async<RawExchange>((resume) => {
    const { hostname, port } = new URL(url)
    const started = performance.now()
    const chunks: Array<Buffer> = []
    const socket = connect({ host: hostname, port: Number(port) })
    const finish = (closedAfterMs: number | undefined) => {
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed({ response: Buffer.concat(chunks).toString("latin1"), closedAfterMs }))
    }
    const timer = setTimeout(() => finish(undefined), waitMs)
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.on("error", () => undefined)
    socket.once("close", () => finish(performance.now() - started))
    socket.once("connect", () => socket.write(data))
  })

/** The status code of a raw HTTP response, or 0 when there is none. */
export const statusOf = (response: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0)
