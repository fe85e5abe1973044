import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Data, Effect, Either, Layer, Stream } from "effect"
import { endpoint } from "./Endpoint.js"
import { check, type WebhookOptions } from "./Options.js"
import * as Pipeline from "./Pipeline.js"

/** Options that cannot work, every problem named. */
export class WebhookMisconfigured extends Data.TaggedError("WebhookMisconfigured")<{
  readonly problems: ReadonlyArray<string>
}> {
  get message(): string {
    return `the Intercom webhook is misconfigured: ${this.problems.join("; ")}`
  }
}

type PipelineLayer = ReturnType<typeof Pipeline.layer>

/** What `layer` provides, and `httpApp` needs. */
export type WebhookServices = Layer.Layer.Success<PipelineLayer>

/**
 * The webhook's pipeline as a layer of your Effect app: verification, decoding, dedupe and the hooks, and with a store
 * the outbox's workers, which stop when the layer's scope closes. Nothing is read from the environment.
 */
export const layer = (
  options: WebhookOptions
): Layer.Layer<WebhookServices, Layer.Layer.Error<PipelineLayer> | WebhookMisconfigured> =>
  Either.match(check(options), {
    onLeft: (problems) => Layer.fail(new WebhookMisconfigured({ problems })),
    onRight: (checked): Layer.Layer<WebhookServices, Layer.Layer.Error<PipelineLayer>> => Pipeline.layer(checked)
  })

/**
 * The webhook endpoint as an `HttpApp` for `@effect/platform`'s router (`HttpRouter.all("/intercom", httpApp)`), with
 * the same answers as the service; it needs `layer(options)`.
 */
export const httpApp = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const handle = yield* endpoint
  const answer = yield* handle({
    method: request.method,
    header: (name) => request.headers[name],
    body: Stream.toAsyncIterable(request.stream)
  })
  const { "content-type": contentType, ...headers } = answer.headers
  return HttpServerResponse.text(answer.body, { status: answer.status, headers, contentType })
})
