import { Duration, Effect, Option, Redacted, type Scope } from "effect"
import { createHash, createHmac } from "node:crypto"
import { Pool } from "undici"
import { redactor, redactUrl } from "../config/Redact.js"
import { parseRetryAfter } from "../pipeline/Backoff.js"
import { asBuffer, type Notification } from "../pipeline/Notification.js"
import { dedupeId } from "./HeaderValue.js"
import { metadataHeaders, type Sink, SinkError } from "./Sink.js"

export interface HttpSinkOptions {
  readonly url: URL
  readonly timeout: Duration.Duration
  readonly signingSecret: Option.Option<Redacted.Redacted<string>>
}

/** Standard Webhooks keys are `whsec_` + base64; any other secret is used as its UTF-8 bytes. */
const signingKey = (secret: string): Buffer =>
  secret.startsWith("whsec_") ? Buffer.from(secret.slice("whsec_".length), "base64") : Buffer.from(secret, "utf8")

/** A message id that stays the same when Intercom sends the same notification again. */
const messageId = (notification: Notification): string =>
  notification.id === null
    ? `msg_${createHash("sha256").update(notification.body).digest("hex").slice(0, 32)}`
    : dedupeId(notification.id)

/** The Standard Webhooks headers: `webhook-signature` is `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`. */
const standardWebhookHeaders = (
  key: Buffer,
  id: string,
  timestamp: number,
  body: Uint8Array
): Record<string, string> => ({
  "webhook-id": id,
  "webhook-timestamp": String(timestamp),
  "webhook-signature": `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest("base64")}`
})

/** `Authorization: Basic ...` from the URL's `user:password@`, which a request line cannot carry. */
const basicAuth = (url: URL): Record<string, string> =>
  url.username === "" && url.password === ""
    ? {}
    : {
      authorization: `Basic ${
        Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")
      }`
    }

/**
 * POSTs the original body bytes to `url` on a pool of keep-alive connections (undici's `Pool`, directly: a delivery
 * through `HttpClient` cost twice the CPU, an AbortController and a scope per request among it); any 2xx within the
 * timeout is a delivery. 5xx, 408, 429, timeouts and network errors say the target is unavailable; any other answer
 * rejects the notification. The answer's body is read and dropped (at most 64 KiB of it).
 */
export const make = (options: HttpSinkOptions): Effect.Effect<Sink, never, Scope.Scope> =>
  Effect.gen(function*() {
    const key = Option.map(options.signingSecret, (secret) => signingKey(Redacted.value(secret)))
    // Every message names the target as it may be shown: the client's own errors may quote the whole URL.
    const shown = redactUrl(options.url)
    const redact = redactor(options.url)
    const failed = (message: string) => SinkError.unavailable("http", `${shown}: ${redact(message)}`)
    const timeoutMs = Duration.toMillis(options.timeout)
    const path = `${options.url.pathname}${options.url.search}`
    const fixed = { "content-type": "application/json", ...basicAuth(options.url) }
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new Pool(options.url.origin, {
          connect: { timeout: timeoutMs },
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs
        })
      ),
      (pool) => Effect.promise(() => pool.destroy().catch(() => undefined))
    )

    const answered = (status: number, retryAfter: string | Array<string> | undefined) => {
      if (status >= 200 && status < 300) return Effect.void
      const message = `${shown}: answered ${status}`
      return Effect.fail(
        status >= 500 || status === 408 || status === 429
          ? SinkError.unavailable(
            "http",
            message,
            parseRetryAfter(typeof retryAfter === "string" ? retryAfter : undefined)
          )
          : SinkError.rejected("http", message)
      )
    }

    return {
      name: "http",
      mode: "outbox",
      input: "bytes",
      deliver: (notification) => {
        const headers: Record<string, string> = { ...fixed, ...metadataHeaders(notification) }
        if (Option.isSome(key)) {
          Object.assign(
            headers,
            standardWebhookHeaders(key.value, messageId(notification), Math.floor(Date.now() / 1000), notification.body)
          )
        }
        const body = asBuffer(notification.body)
        return Effect.async<void, SinkError>((resume) => {
          pool.request({ path, method: "POST", headers, body }).then(
            (response) =>
              response.body.dump({ limit: 65_536 }).then(
                () => resume(answered(response.statusCode, response.headers["retry-after"])),
                () => resume(answered(response.statusCode, response.headers["retry-after"]))
              ),
            (error: Error) =>
              resume(Effect.fail(failed(
                error.name === "HeadersTimeoutError" || error.name === "BodyTimeoutError" ||
                  error.name === "ConnectTimeoutError"
                  ? `no answer within ${Duration.format(options.timeout)}`
                  : error.message
              )))
          )
        })
      }
    } satisfies Sink
  })
