import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Duration, Effect, Option, Redacted } from "effect"
import { createHash, createHmac } from "node:crypto"
import { redactor, redactUrl } from "../config/Redact.js"
import { parseRetryAfter } from "../pipeline/Backoff.js"
import type { Notification } from "../pipeline/Notification.js"
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

/**
 * POSTs the original body bytes to `url`; any 2xx within the timeout is a delivery. 5xx, 408, 429, timeouts and
 * network errors say the target is unavailable; any other answer rejects the notification.
 */
export const make = (options: HttpSinkOptions): Effect.Effect<Sink, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const key = Option.map(options.signingSecret, (secret) => signingKey(Redacted.value(secret)))
    const target = options.url.toString()
    // Every message names the target as it may be shown: HttpClient's own errors quote the whole URL.
    const shown = redactUrl(options.url)
    const redact = redactor(options.url)
    const failed = (message: string) => SinkError.unavailable("http", `${shown}: ${redact(message)}`)

    return {
      name: "http",
      mode: "outbox",
      input: "bytes",
      deliver: (notification) => {
        const headers = metadataHeaders(notification)
        if (Option.isSome(key)) {
          Object.assign(
            headers,
            standardWebhookHeaders(key.value, messageId(notification), Math.floor(Date.now() / 1000), notification.body)
          )
        }
        const request = HttpClientRequest.post(target).pipe(
          HttpClientRequest.setHeaders(headers),
          HttpClientRequest.bodyUint8Array(notification.body, "application/json")
        )
        return client.execute(request).pipe(
          Effect.flatMap((response) => {
            const status = response.status
            if (status >= 200 && status < 300) return Effect.void
            const message = `${shown}: answered ${status}`
            return Effect.fail(
              status >= 500 || status === 408 || status === 429
                ? SinkError.unavailable("http", message, parseRetryAfter(response.headers["retry-after"]))
                : SinkError.rejected("http", message)
            )
          }),
          Effect.scoped,
          Effect.timeoutFail({
            duration: options.timeout,
            onTimeout: () => failed(`no answer within ${Duration.format(options.timeout)}`)
          }),
          Effect.mapError((error) => error._tag === "SinkError" ? error : failed(error.message))
        )
      }
    }
  })
