import { Data, Effect, Exit, FiberSet } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { escape } from "./Html.js"
import type { Reply } from "./Reply.js"
import type { ConsoleRequest } from "./Request.js"

/** The console's port could not be opened (taken, not allowed, no such address). */
export class ConsoleListenError extends Data.TaggedError("ConsoleListenError")<{ readonly message: string }> {}

/**
 * Headers of every answer: nothing from elsewhere runs, frames, is sniffed or cached, and no other site learns an
 * address of the console. `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null` with
 * every form, and the origin check (`Csrf.ts`) could then tell no form of the console from a foreign one.
 */
export const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; " +
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
  "x-frame-options": "DENY"
} as const

/** Bytes of a form a POST may send: a token, a CSRF token and a filter. */
const MAX_FORM_BYTES = 16 * 1024

const write = (response: ServerResponse, reply: Reply) => {
  if (response.headersSent) return void response.end()
  response.writeHead(reply.status, { ...reply.headers, ...SECURITY_HEADERS })
  response.end(reply.body)
}

const plain = (status: number, message: string): Reply => ({
  status,
  headers: { "content-type": "text/plain; charset=utf-8" },
  body: escape(message)
})

/** The body of a POST as a urlencoded form, within `MAX_FORM_BYTES`; a reply when it cannot be one. */
const readForm = (request: IncomingMessage, done: (form: URLSearchParams | Reply) => void) => {
  if (request.method !== "POST") {
    request.resume()
    return done(new URLSearchParams())
  }
  const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
  if (type !== "application/x-www-form-urlencoded" && type !== "") {
    request.resume()
    return done(plain(415, "send application/x-www-form-urlencoded"))
  }
  const chunks: Array<Buffer> = []
  let size = 0
  request.on("data", (chunk: Buffer) => {
    size += chunk.length
    if (size > MAX_FORM_BYTES) {
      done(plain(413, "the form is too large"))
      request.destroy()
    } else chunks.push(chunk)
  })
  request.on("end", () => {
    if (size <= MAX_FORM_BYTES) done(new URLSearchParams(Buffer.concat(chunks).toString("utf8")))
  })
  request.on("error", () => undefined)
}

/**
 * Serves `handle` on its own Node server at `host:port` until the scope closes: each request is a fiber of a
 * `FiberSet` (interrupted at the end), a failure of the handler is logged and answered 500.
 */
export const listen = <R>(
  host: string,
  port: number,
  handle: (request: ConsoleRequest) => Effect.Effect<Reply, never, R>
) =>
  Effect.gen(function*() {
    const run = yield* FiberSet.makeRuntime<R, Reply, never>()
    const server = createServer((request, response) => {
      readForm(request, (form) => {
        if (!(form instanceof URLSearchParams)) return write(response, form)
        const url = new URL(request.url ?? "/", "http://console.invalid")
        const fiber = run(
          handle({
            method: request.method ?? "GET",
            path: url.pathname,
            query: url.searchParams,
            headers: request.headers,
            form,
            remote: request.socket.remoteAddress ?? "unknown"
          }).pipe(
            Effect.catchAllCause((cause) =>
              Effect.as(Effect.logError("console request failed", cause), plain(500, "internal error"))
            )
          )
        )
        fiber.addObserver((exit) => write(response, Exit.isSuccess(exit) ? exit.value : plain(503, "shutting down")))
      })
    })
    server.requestTimeout = 10_000
    server.headersTimeout = 10_000
    server.maxConnections = 100
    yield* Effect.acquireRelease(
      Effect.async<void, ConsoleListenError>((resume) => {
        const failed = (error: NodeJS.ErrnoException) =>
          resume(
            new ConsoleListenError({
              message: `console cannot listen on ${host}:${port}: ${error.code ?? error.message}`
            })
          )
        server.once("error", failed)
        server.listen(port, host, () => {
          server.off("error", failed)
          resume(Effect.void)
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    const address = server.address() as AddressInfo
    return { host: address.address, port: address.port }
  })
