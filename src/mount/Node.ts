import type { IncomingMessage, ServerResponse } from "node:http"
import type { IncomingWebhook } from "./Endpoint.js"
import { mount } from "./Mounted.js"
import type { WebhookOptions } from "./Options.js"

const EXPRESS_FIX =
  "mount the webhook before any body parser (app.post(path, middleware) ahead of app.use(express.json())), " +
  "or give it the raw bytes with express.raw({ type: \"application/json\" })"

/** A request as Express and body parsers leave it. */
type ParsedRequest = IncomingMessage & { readonly body?: unknown; readonly _body?: boolean }

/** The body to verify: the bytes a raw parser kept, the stream still to read, or the sign that a parser consumed it. */
export const bodyOf = (request: ParsedRequest): IncomingWebhook["body"] => {
  const given = request.body
  if (given instanceof Uint8Array) return given
  if (typeof given === "string") return Buffer.from(given, "utf8")
  // body-parser sets `_body` once it read the stream; Express 4 leaves `{}` on requests it did not parse.
  if (given !== undefined && (request._body === true || request.readableEnded)) {
    return { _tag: "Parsed", fix: EXPRESS_FIX }
  }
  return request.readableEnded ? undefined : request
}

const header = (request: IncomingMessage) => (name: string) => {
  const value = request.headers[name]
  return Array.isArray(value) ? value.join(", ") : value
}

export interface NodeMiddlewareOptions extends WebhookOptions {
  /** Only requests to this path are the webhook's; others go to `next`, or are answered 404 without one. */
  readonly path?: string | undefined
}

/** A `node:http` request listener and Connect/Express middleware; `close` stops the workers and closes the store. */
export interface NodeMiddleware {
  (request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void): void
  readonly close: () => Promise<void>
}

/**
 * The webhook for `node:http` (`http.createServer(middleware)`) and Express (`app.post("/intercom", middleware)`).
 * It reads the raw body itself; a body already parsed is refused with a 500 that names the fix, never verified as
 * re-encoded JSON.
 */
export const createNodeMiddleware = (options: NodeMiddlewareOptions): NodeMiddleware => {
  const mounted = mount(options)
  const middleware = (request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void) => {
    const path = (request.url ?? "/").split("?")[0]
    if (options.path !== undefined && path !== options.path) {
      if (next !== undefined) return next()
      response.writeHead(404, { "content-type": "application/json" })
      response.end(JSON.stringify({ error: "not_found", message: `the webhook's path is ${options.path}` }))
      return
    }
    mounted.handle({ method: request.method ?? "GET", header: header(request), body: bodyOf(request) }).then(
      (answer) => {
        if (response.headersSent) return
        response.writeHead(answer.status, { ...answer.headers, "content-length": Buffer.byteLength(answer.body) })
        response.end(answer.body)
      },
      (error: unknown) => {
        if (next !== undefined) return next(error)
        response.destroy(error instanceof Error ? error : new Error(String(error)))
      }
    )
  }
  return Object.assign(middleware, { close: mounted.close })
}
