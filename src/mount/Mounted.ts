import { Cause, Either, type Layer, ManagedRuntime } from "effect"
import { redactText } from "../config/Redact.js"
import { shortSecretWarnings } from "../config/Secrets.js"
import * as LogLines from "../ops/LogLines.js"
import { endpoint, type IncomingWebhook, type WebhookAnswer } from "./Endpoint.js"
import { check, type WebhookOptions } from "./Options.js"
import * as Pipeline from "./Pipeline.js"

/** The webhook for a framework's adapter: answer a request, and close the store and workers when the app stops. */
export interface Mounted {
  readonly handle: (incoming: IncomingWebhook) => Promise<WebhookAnswer>
  readonly close: () => Promise<void>
}

const json = (status: number, body: Record<string, string>, headers: Record<string, string> = {}): WebhookAnswer => ({
  status,
  headers: { ...headers, "content-type": "application/json" },
  body: JSON.stringify(body)
})

/** A line logged before the pipeline (and its logger) exists. */
const logLine = (logLevel: "ERROR" | "WARN", message: string, fields: Record<string, string> = {}) =>
  LogLines.write(
    JSON.stringify({
      message,
      logLevel,
      timestamp: new Date().toISOString(),
      ...(Object.keys(fields).length === 0 ? {} : { annotations: fields })
    })
  )

const failedToStart = (error: unknown) =>
  logLine("ERROR", "the Intercom webhook could not start; the next request tries again", {
    error: redactText(Cause.isCause(error) ? Cause.pretty(error) : String(error))
  })

/**
 * Options that cannot work are said once, at ERROR, and every request is answered 500 with the same message: an app
 * that imports its route while building (without its secrets) still builds. The pipeline starts at the first request;
 * when it cannot (a store that cannot be opened), the request is answered 503, the reason logged, and the next request
 * tries again. With a store it starts at once, so that what waits in the outbox is delivered.
 */
export const mount = (options: WebhookOptions): Mounted => {
  const checked = check(options)
  if (Either.isLeft(checked)) {
    const message = `the Intercom webhook is misconfigured: ${checked.left.join("; ")}`
    // Next.js imports the route while it builds, usually without the app's secrets: said only when serving.
    if (process.env.NEXT_PHASE !== "phase-production-build") logLine("ERROR", message)
    return { handle: async () => json(500, { error: "misconfigured", message }), close: async () => {} }
  }
  if (checked.right.logLevel === "debug" || checked.right.logLevel === "info" || checked.right.logLevel === "warning") {
    for (const warning of shortSecretWarnings(checked.right.secrets, "secret")) logLine("WARN", warning)
  }
  const layer = Pipeline.layer(checked.right)
  let runtime: ManagedRuntime.ManagedRuntime<Layer.Layer.Success<typeof layer>, Layer.Layer.Error<typeof layer>> =
    ManagedRuntime.make(layer)
  let started: Promise<(incoming: IncomingWebhook) => Promise<WebhookAnswer>> | undefined
  const start = () =>
    started ??= runtime.runPromise(endpoint).then(
      (handle) => (incoming: IncomingWebhook) => runtime.runPromise(handle(incoming)),
      async (error: unknown) => {
        started = undefined
        const failed = runtime
        runtime = ManagedRuntime.make(layer)
        await failed.dispose().catch(() => undefined)
        throw error
      }
    )
  // With a store, deliveries left waiting by the last run resume at once rather than at the first request; not while
  // Next.js imports the route to build the app.
  if (checked.right.store !== "memory" && process.env.NEXT_PHASE !== "phase-production-build") {
    start().catch((error: unknown) => failedToStart(error))
  }
  return {
    handle: async (incoming) => {
      let handle: (incoming: IncomingWebhook) => Promise<WebhookAnswer>
      try {
        handle = await start()
      } catch (error) {
        failedToStart(error)
        return json(503, {
          error: "unavailable",
          message: "not accepted: the webhook could not start; send it again later"
        }, {
          "retry-after": "60"
        })
      }
      return handle(incoming)
    },
    close: () => runtime.dispose()
  }
}
