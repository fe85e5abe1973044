import type { IncomingHttpHeaders } from "node:http"

/** A request to the console, its form already read (`Server`). */
export interface ConsoleRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: IncomingHttpHeaders
  /** The urlencoded body of a POST; empty otherwise. */
  readonly form: URLSearchParams
  readonly remote: string
}

/** Scripts (a bearer token) and `/api/` get JSON; browsers get pages. */
export const answersJson = (request: ConsoleRequest): boolean =>
  request.headers.authorization !== undefined || request.path.startsWith("/api/")
