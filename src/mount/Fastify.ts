import type { IncomingMessage } from "node:http"
import { mount } from "./Mounted.js"
import type { WebhookOptions } from "./Options.js"

/** The parts of Fastify's API the plugin uses (Fastify itself is the app's dependency, not this package's). */
interface FastifyRequestLike {
  readonly method: string
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: unknown
}
interface FastifyReplyLike {
  code(status: number): FastifyReplyLike
  headers(values: Record<string, string>): FastifyReplyLike
  send(payload?: string): FastifyReplyLike
}
interface FastifyInstanceLike {
  removeAllContentTypeParsers(): void
  addContentTypeParser(
    type: string,
    parser: (request: unknown, payload: IncomingMessage, done: (error: Error | null, body?: unknown) => void) => void
  ): void
  route(options: {
    method: Array<string>
    url: string
    handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<FastifyReplyLike>
  }): void
  addHook(name: "onClose", hook: () => Promise<void>): void
}

const isStream = (body: unknown): body is AsyncIterable<Uint8Array> =>
  typeof body === "object" && body !== null && Symbol.asyncIterator in body

export interface FastifyWebhookOptions extends WebhookOptions {
  /** The webhook's path, e.g. `/intercom`. */
  readonly path: string
}

/**
 * The webhook as a Fastify plugin: `await app.register(intercomWebhook({ path: "/intercom", secret, hooks }))`.
 * Inside the plugin no body is parsed (the app's own JSON parsing elsewhere is untouched): the webhook reads it, so the
 * signature is checked over exactly what Intercom sent, and its size limit is `maxBodyBytes`. The store closes with the app.
 */
export const intercomWebhook = (options: FastifyWebhookOptions) => {
  const mounted = mount(options)
  return async (fastify: FastifyInstanceLike): Promise<void> => {
    // The body is handed over unread, whatever its type: the webhook reads it, checks its size and hashes it.
    fastify.removeAllContentTypeParsers()
    fastify.addContentTypeParser("*", (_request, payload, done) => done(null, payload))
    fastify.route({
      method: ["POST", "HEAD", "GET", "PUT", "PATCH", "DELETE", "OPTIONS"],
      url: options.path,
      handler: async (request, reply) => {
        const answer = await mounted.handle({
          method: request.method,
          header: (name) => {
            const value = request.headers[name]
            return Array.isArray(value) ? value.join(", ") : value
          },
          body: isStream(request.body) ? request.body : undefined
        })
        return reply.code(answer.status).headers(answer.headers as Record<string, string>).send(answer.body)
      }
    })
    fastify.addHook("onClose", () => mounted.close())
  }
}
