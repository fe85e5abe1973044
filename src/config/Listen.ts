import { Config, Either } from "effect"
import { isIP } from "node:net"
import { invalid } from "./Values.js"

/** The service's own endpoints (`src/http/Endpoints.ts`). */
export const builtInPaths = ["/healthz", "/readyz", "/metrics"] as const

const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/

/**
 * An IP address, or a host name: dot-separated labels of letters, digits and `-`, the last not all digits (so
 * `0.0.0.0.0` or `10.1.2` are neither).
 */
export const isHost = (host: string): boolean => {
  if (isIP(host) !== 0) return true
  const labels = host.replace(/\.$/, "").split(".")
  return host.length <= 253 && labels.every((label) => LABEL.test(label)) && !/^\d+$/.test(labels.at(-1)!)
}

export const host = Config.string("HOST").pipe(
  Config.withDefault("0.0.0.0"),
  Config.mapOrFail((text) =>
    isHost(text.trim())
      ? Either.right(text.trim())
      : Either.left(invalid("HOST", `must be an IP address (0.0.0.0, 127.0.0.1, ::) or a host name, got "${text}"`))
  )
)

/** The router matches paths regardless of case, repeated slashes and a trailing slash. */
const routed = (path: string) => path.toLowerCase().replace(/\/{2,}/g, "/").replace(/(.)\/$/, "$1")

export const webhookPath = Config.string("WEBHOOK_PATH").pipe(
  Config.withDefault("/webhooks/intercom"),
  Config.mapOrFail((path) => {
    if (!/^\/[A-Za-z0-9._~\-/]*$/.test(path)) {
      return Either.left(invalid("WEBHOOK_PATH", `must be a path starting with /, got "${path}"`))
    }
    const taken = builtInPaths.find((builtIn) => builtIn === routed(path))
    return taken === undefined
      ? Either.right(path)
      : Either.left(
        invalid(
          "WEBHOOK_PATH",
          `must not be ${taken}, which the service serves itself (${builtInPaths.join(", ")}), got "${path}"`
        )
      )
  })
)
