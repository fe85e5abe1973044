import { Effect } from "effect"
import { type AddressInfo, createServer, type Socket } from "node:net"

const CRLF = Buffer.from("\r\n")

/** One command of RESP (an array of bulk strings) from the front of `buffer`, or undefined until it is all there. */
const parseCommand = (buffer: Buffer): { readonly args: ReadonlyArray<Buffer>; readonly rest: Buffer } | undefined => {
  let offset = 0
  const line = () => {
    const end = buffer.indexOf(CRLF, offset)
    if (end === -1) return undefined
    const text = buffer.subarray(offset, end).toString("latin1")
    offset = end + 2
    return text
  }
  const header = line()
  if (header === undefined) return undefined
  const args: Array<Buffer> = []
  for (let count = Number(header.slice(1)); args.length < count;) {
    const size = line()
    if (size === undefined) return undefined
    const length = Number(size.slice(1))
    if (buffer.length < offset + length + 2) return undefined
    args.push(buffer.subarray(offset, offset + length))
    offset += length + 2
  }
  return { args, rest: buffer.subarray(offset) }
}

const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`

/**
 * A Redis server of a few lines on an ephemeral port of 127.0.0.1: it answers `INFO` as a server that is ready, `XADD`
 * with `errors` in turn (each a RESP error line such as `LOADING ...`) and then with an entry id, anything else `+OK`.
 * `added` holds the arguments of every `XADD` it took. Closed with the scope.
 */
export const startFakeRedis = (errors: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const pending = [...errors]
    const added: Array<ReadonlyArray<Buffer>> = []
    const sockets = new Set<Socket>()
    const answer = (args: ReadonlyArray<Buffer>): string => {
      switch (args[0]?.toString("latin1").toUpperCase()) {
        case "INFO":
          return bulk("# Server\r\nredis_version:7.2.0\r\nloading:0\r\n")
        case "XADD": {
          const error = pending.shift()
          if (error !== undefined) return `-${error}\r\n`
          added.push(args.slice(1))
          return bulk(`${Date.now()}-${added.length}`)
        }
        default:
          return "+OK\r\n"
      }
    }
    const server = createServer((socket) => {
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
      socket.on("error", () => undefined)
      let buffer: Buffer = Buffer.alloc(0)
      socket.on("data", (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk])
        for (let command = parseCommand(buffer); command !== undefined; command = parseCommand(buffer)) {
          buffer = command.rest
          socket.write(answer(command.args))
        }
      })
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
      () =>
        Effect.async<void>((resume) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    return {
      port: (server.address() as AddressInfo).port,
      /** The arguments of each `XADD` taken, after the command's name. */
      added: added as ReadonlyArray<ReadonlyArray<Buffer>>,
      /** Errors not answered yet. */
      pending: () => pending.length
    }
  })
