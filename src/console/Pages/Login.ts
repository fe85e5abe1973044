import { escape, page } from "../Html.js"

export const render = (message?: string): string =>
  page(
    "Sign in",
    `${message === undefined ? "" : `<p class="error">${escape(message)}</p>`}
<form method="post" action="/login">
<label>Operator token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
</form>
<p class="hint">The token is CONSOLE_TOKEN (operator) or CONSOLE_READONLY_TOKEN (read-only) of the service.</p>`,
    undefined
  )
