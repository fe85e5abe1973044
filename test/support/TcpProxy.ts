import { Effect } from "effect"
import { type AddressInfo, connect, createServer, type Socket } from "node:net"
import { Transform } from "node:stream"

export interface TcpProxy {
  /** The port the proxy listens on, on 127.0.0.1. */
  readonly port: number
  /** Drops every open connection and refuses new ones, as a network cut would. */
  readonly cut: () => void
  /**
   * Keeps connections open but forwards nothing, either way, and accepts new ones that go nowhere: a peer that
   * stops answering without closing anything (a black hole).
   */
  readonly stall: () => void
  /** Lets connections through again; connections that were stalled are dropped (what they sent is lost). */
  readonly restore: () => void
  /**
   * Cuts one connection in the middle of a command, once: the first bytes towards `host:port` that hold `marker` are
   * forwarded up to the marker's end (the rest of the command never arrives), then both sides are closed before any
   * answer can come back. Other connections, and later ones, pass as usual.
   */
  readonly cutAt: (marker: string) => void
}

/**
 * A TCP proxy on an ephemeral port of 127.0.0.1 to `host:port`, for tests that cut the line to a database or broker
 * and restore it. Closed with the scope.
 */
export const startTcpProxy = (host: string, port: number) =>
  Effect.gen(function*() {
    const open = new Set<Socket>()
    const pairs = new Set<{ readonly client: Socket; readonly gate: Transform; readonly upstream: Socket }>()
    let mode: "open" | "cut" | "stalled" = "open"
    let marker: Buffer | undefined
    const track = (socket: Socket) => {
      open.add(socket)
      socket.once("close", () => open.delete(socket))
      socket.on("error", () => undefined)
    }
    const server = createServer((client) => {
      if (mode === "cut") return void client.destroy()
      track(client)
      if (mode === "stalled") return void client.resume()
      const upstream = connect({ host, port })
      track(upstream)
      // The last bytes of the previous chunk, so that a marker split between two chunks is still seen.
      let tail = Buffer.alloc(0)
      const gate = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          if (marker === undefined) return done(null, chunk)
          const seen = Buffer.concat([tail, chunk])
          const at = seen.indexOf(marker)
          if (at === -1) {
            tail = seen.subarray(Math.max(0, seen.length - marker.length + 1))
            return done(null, chunk)
          }
          const end = at + marker.length - tail.length
          marker = undefined
          upstream.end(chunk.subarray(0, end))
          client.destroy()
          done()
        }
      })
      gate.on("error", () => undefined)
      const pair = { client, gate, upstream }
      pairs.add(pair)
      client.pipe(gate).pipe(upstream).pipe(client)
      client.once("close", () => {
        pairs.delete(pair)
        upstream.destroy()
      })
      upstream.once("close", () => client.destroy())
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
      () =>
        Effect.async<void>((resume) => {
          for (const socket of open) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    return {
      port: (server.address() as AddressInfo).port,
      cut: () => {
        mode = "cut"
        for (const socket of open) socket.destroy()
      },
      stall: () => {
        mode = "stalled"
        for (const { client, gate, upstream } of pairs) {
          client.unpipe(gate)
          upstream.unpipe(client)
          client.resume()
          upstream.resume()
        }
      },
      restore: () => {
        if (mode === "stalled") { for (const socket of open) socket.destroy() }
        mode = "open"
      },
      cutAt: (text) => {
        marker = Buffer.from(text)
      }
    } satisfies TcpProxy
  })
