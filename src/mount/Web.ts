import { mount } from "./Mounted.js"
import type { WebhookOptions } from "./Options.js"

/** The body's chunks as they arrive; reading stops (and the stream is cancelled) when the reader stops asking. */
async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    await reader.cancel().catch(() => undefined)
  }
}

/** A web-standard request handler; `close` stops the workers and closes the store. */
export interface WebhookHandler {
  (request: Request): Promise<Response>
  readonly close: () => Promise<void>
}

/**
 * The webhook as a web-standard handler, for the Next.js App Router (`export { handler as POST, handler as HEAD }` in
 * `app/api/intercom/route.ts`), Hono, Bun and Deno. It reads the request's body itself: hand it the request untouched.
 */
export const createWebhookHandler = (options: WebhookOptions): WebhookHandler => {
  const mounted = mount(options)
  const handler = async (request: Request): Promise<Response> => {
    const answer = await mounted.handle({
      method: request.method,
      header: (name) => request.headers.get(name) ?? undefined,
      body: request.bodyUsed
        ? { _tag: "Parsed", fix: "hand the handler the request before anything reads its body" }
        : request.body === null
        ? undefined
        : chunksOf(request.body)
    })
    return new Response(answer.body === "" ? null : answer.body, { status: answer.status, headers: answer.headers })
  }
  return Object.assign(handler, { close: mounted.close })
}
