/**
 * Every page is a template literal, and every value interpolated into one goes through `escape` (text and
 * double-quoted attributes alike): nothing a notification, a query string or a store holds can become markup.
 */

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }

export const escape = (value: string | number): string => String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]!)

/** Control characters (a notification id may hold any) shown as U+FFFD, as `npm run replay -- --list` shows them. */
export const printable = (text: string): string => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "\ufffd")

/** Characters of a value a table cell shows; the whole value is in the cell's `title`. */
export const CELL_CHARACTERS = 80

/** A table cell: long values cut, the whole (escaped) value in `title`. */
export const cell = (value: string, className = ""): string => {
  const text = printable(value)
  const cut = text.length > CELL_CHARACTERS ? `${text.slice(0, CELL_CHARACTERS)}…` : text
  const classes = className === "" ? "" : ` class="${escape(className)}"`
  return text === cut
    ? `<td${classes}>${escape(text)}</td>`
    : `<td${classes} title="${escape(text)}">${escape(cut)}</td>`
}

/** A value cut as a cell cuts it, the whole in the `title` of a span. */
export const shortened = (value: string): string => {
  const text = printable(value)
  return text.length > CELL_CHARACTERS
    ? `<span title="${escape(text)}">${escape(text.slice(0, CELL_CHARACTERS))}…</span>`
    : escape(text)
}

/** Who is looking at a page: what the layout shows and which forms it renders. */
export interface Viewer {
  readonly role: "operator" | "readonly"
  /** The session's CSRF token; none for a request signed with a bearer token. */
  readonly csrf: string | undefined
}

export const csrfField = (viewer: Viewer): string =>
  viewer.csrf === undefined ? "" : `<input type="hidden" name="csrf" value="${escape(viewer.csrf)}">`

const nav = (viewer: Viewer | undefined, current: string): string => {
  if (viewer === undefined) return ""
  const link = (href: string, label: string) =>
    `<a href="${escape(href)}"${href === current ? " aria-current=\"page\"" : ""}>${escape(label)}</a>`
  const logout = viewer.csrf === undefined ?
    "" :
    `<form method="post" action="/logout" class="logout">${
      csrfField(viewer)
    }<button type="submit">Sign out</button></form>`
  return `<nav>${link("/", "Overview")}${link("/notifications", "Notifications")}${
    link("/dead-letters", "Dead letters")
  }<span class="role">${escape(viewer.role === "operator" ? "operator" : "read-only")}</span>${logout}</nav>`
}

/** A whole page; `body` is markup built with `escape`. */
export const page = (title: string, body: string, viewer: Viewer | undefined, current = ""): string =>
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · webhook receiver console</title>
<link rel="stylesheet" href="/console.css">
<script src="/console.js" defer></script>
</head>
<body>
<header><h1>${escape(title)}</h1>${nav(viewer, current)}</header>
<main>
${body}
</main>
</body>
</html>
`
