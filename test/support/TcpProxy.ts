import { Effect } from "effect"
import { type AddressInfo, connect, createServer, type Socket } from "node:net"

export interface TcpProxy {
  /** The port the proxy listens on, on 127.0.0.1. */
  readonly port: number
  /** Drops every open connection and refuses new ones, as a network cut would. */
  readonly cut: () => void
  /** Lets connections through again. */
  readonly restore: () => void
}

/**
 * A TCP proxy on an ephemeral port of 127.0.0.1 to `host:port`, for tests that cut the line to a database or broker
 * and restore it. Closed with the scope.
 */
export const startTcpProxy = (host: string, port: number) =>
  Effect.gen(function*() {
    const open = new Set<Socket>()
    let cutOff = false
    const server = createServer((client) => {
      if (cutOff) return void client.destroy()
      const upstream = connect({ host, port })
      for (const socket of [client, upstream]) {
        open.add(socket)
        socket.once("close", () => open.delete(socket))
        socket.on("error", () => undefined)
      }
      client.pipe(upstream).pipe(client)
      client.once("close", () => upstream.destroy())
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
        cutOff = true
        for (const socket of open) socket.destroy()
      },
      restore: () => {
        cutOff = false
      }
    } satisfies TcpProxy
  })
