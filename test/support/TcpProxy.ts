import { Effect } from "effect"
import { type AddressInfo, connect, createServer, type Socket } from "node:net"

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
}

/**
 * A TCP proxy on an ephemeral port of 127.0.0.1 to `host:port`, for tests that cut the line to a database or broker
 * and restore it. Closed with the scope.
 */
export const startTcpProxy = (host: string, port: number) =>
  Effect.gen(function*() {
    const open = new Set<Socket>()
    const pairs = new Set<readonly [Socket, Socket]>()
    let mode: "open" | "cut" | "stalled" = "open"
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
      const pair = [client, upstream] as const
      pairs.add(pair)
      client.pipe(upstream).pipe(client)
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
        for (const [client, upstream] of pairs) {
          client.unpipe(upstream)
          upstream.unpipe(client)
          client.resume()
          upstream.resume()
        }
      },
      restore: () => {
        if (mode === "stalled") { for (const socket of open) socket.destroy() }
        mode = "open"
      }
    } satisfies TcpProxy
  })
