import { Effect } from "effect"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"

export interface Captured {
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  /** The request's path and query string. */
  readonly url: string
}

/** A status, a status with headers, or "hang": no answer at all, so that the sender times out. */
export type Answer = number | { readonly status: number; readonly headers: Record<string, string> } | "hang"

/** A local HTTP receiver for the forward sink: records every request and gives `answer(n)` to the n-th. */
export const startTarget = (answer: (n: number) => Answer = () => 200, port = 0) =>
  Effect.gen(function*() {
    const requests: Array<Captured> = []
    const server = createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        requests.push({ headers: request.headers, body: Buffer.concat(chunks), url: request.url ?? "" })
        const given = answer(requests.length)
        if (given === "hang") return
        if (typeof given === "number") response.writeHead(given).end()
        else response.writeHead(given.status, given.headers).end()
      })
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void server.listen(port, "127.0.0.1", () => resume(Effect.void))),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const { port: listening } = server.address() as AddressInfo
    return { url: `http://127.0.0.1:${listening}/hooks`, requests: requests as ReadonlyArray<Captured> }
  })
