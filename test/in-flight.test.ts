import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent, createServer, request, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { InFlight } from "../src/http/InFlight.js"
import { eventually } from "./support/Eventually.js"

/**
 * A real server whose requests stay open until answered by the test: `held` lists them in arrival order, `inFlight`
 * tracks them as the service's server does.
 */
const holdingServer = Effect.acquireRelease(
  Effect.async<{ port: number; held: Array<ServerResponse>; inFlight: InFlight; close: () => void }>((resume) => {
    const inFlight = new InFlight()
    const held: Array<ServerResponse> = []
    const server = createServer((_request, response) => {
      inFlight.add(response)
      held.push(response)
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({
        port: (server.address() as AddressInfo).port,
        held,
        inFlight,
        close: () => {
          server.closeAllConnections()
          server.close()
        }
      })))
  }),
  ({ close }) => Effect.sync(close)
)

/**
 * Sends a GET on a keep-alive connection (the server answers `Connection: keep-alive` unless told otherwise); resolves
 * with the answer's status and `Connection` header.
 */
const get = (agent: Agent, port: number, path: string) =>
  new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    request({ host: "127.0.0.1", port, path, agent }, (response) => {
      response.resume()
      response.once("end", () => resolve({ status: response.statusCode!, connection: response.headers.connection }))
    }).once("error", reject).end()
  })

describe("InFlight", () => {
  it.scopedLive("counts the responses not yet closed and lists exactly those, whichever closes first", () =>
    Effect.gen(function*() {
      const { held, inFlight, port } = yield* holdingServer
      const agent = yield* Effect.acquireRelease(
        Effect.sync(() => new Agent({ keepAlive: true })),
        (agent) => Effect.sync(() => agent.destroy())
      )
      const answers = ["/a", "/b", "/c", "/d"].map((path) => get(agent, port, path))
      yield* eventually("four requests held", Effect.sync(() => held.length), (n) => n === 4)
      assert.strictEqual(inFlight.size, 4)

      const paths = () => {
        const seen: Array<string> = []
        inFlight.forEach((response) => seen.push(response.req.url!))
        return seen.sort()
      }
      // The middle of the list, then its first and last entries.
      const byPath = (path: string) => held.find((response) => response.req.url === path)!
      for (const [path, left] of [["/b", ["/a", "/c", "/d"]], ["/d", ["/a", "/c"]], ["/a", ["/c"]]] as const) {
        byPath(path).end()
        yield* eventually(`${path} closed`, Effect.sync(() => inFlight.size), (n) => n === left.length)
        assert.deepStrictEqual(paths(), [...left])
      }

      // What draining does: the one left is answered with `Connection: close`.
      inFlight.forEach((response) => response.setHeader("connection", "close"))
      byPath("/c").end()
      yield* eventually("the last one closed", Effect.sync(() => inFlight.size), (n) => n === 0)
      assert.deepStrictEqual(paths(), [])
      const statuses = yield* Effect.promise(() => Promise.all(answers))
      assert.deepStrictEqual(statuses.map((answer) => answer.status), [200, 200, 200, 200])
      assert.deepStrictEqual(statuses.map((answer) => answer.connection), [
        "keep-alive",
        "keep-alive",
        "close",
        "keep-alive"
      ])
    }))

  it.scopedLive("drops a response whose client went away before it was answered", () =>
    Effect.gen(function*() {
      const { held, inFlight, port } = yield* holdingServer
      const client = request({ host: "127.0.0.1", port, path: "/gone", agent: false })
      client.once("error", () => {})
      client.end()
      yield* eventually("the request held", Effect.sync(() => held.length), (n) => n === 1)
      assert.strictEqual(inFlight.size, 1)
      client.destroy()
      yield* eventually("the response dropped", Effect.sync(() => inFlight.size), (n) => n === 0)
      const seen: Array<ServerResponse> = []
      inFlight.forEach((response) => seen.push(response))
      assert.deepStrictEqual(seen, [])
    }))
})
