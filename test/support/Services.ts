import { connect } from "node:net"

/** True when a TCP connection to `host:port` opens within `timeoutMs`. */
export const canConnect = (host: string, port: number, timeoutMs = 1000): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (up: boolean) => {
      socket.destroy()
      resolve(up)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })

/**
 * Whether a suite that needs a running service (PostgreSQL, a broker) can run. When the service does not answer the
 * suite is skipped with a message saying so; with `REQUIRE_SERVICES=1` (set by `.ci/run`) it fails instead, so CI can
 * never pass without it. Call it at the top of the test file: `const up = await requireService(...)`, then
 * `describe.runIf(up)(...)`.
 */
export const requireService = async (service: string, host: string, port: number): Promise<boolean> => {
  if (await canConnect(host, port)) return true
  const message = `${service} is not reachable at ${host}:${port}`
  if (process.env.REQUIRE_SERVICES === "1") {
    throw new Error(`${message}; REQUIRE_SERVICES=1 turns this skip into a failure (see docs/testing.md, Services)`)
  }
  console.warn(`skipping the ${service} suite: ${message}`)
  return false
}
