import { escape, page, type Viewer } from "./Html.js"

/** An answer of the console; `Server` adds the security headers every answer carries. */
export interface Reply {
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string>>>
  readonly body: string
}

export const html = (status: number, body: string, headers: Reply["headers"] = {}): Reply => ({
  status,
  headers: { "content-type": "text/html; charset=utf-8", ...headers },
  body
})

export const json = (status: number, value: unknown, headers: Reply["headers"] = {}): Reply => ({
  status,
  headers: { "content-type": "application/json; charset=utf-8", ...headers },
  body: JSON.stringify(value)
})

export const redirect = (location: string, headers: Reply["headers"] = {}): Reply => ({
  status: 303,
  headers: { location, ...headers },
  body: ""
})

/** An error page for a browser, JSON for a script (a bearer token, or `/api/`). */
export const problem = (
  status: number,
  error: string,
  message: string,
  as: "html" | "json",
  viewer?: Viewer
): Reply =>
  as === "json"
    ? json(status, { error, message })
    : html(status, page(`${status}`, `<p class="error">${escape(message)}</p>`, viewer))
