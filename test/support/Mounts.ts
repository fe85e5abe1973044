import { serve } from "@hono/node-server"
import express from "express"
import Fastify from "fastify"
import { Hono } from "hono"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { intercomWebhook } from "../../src/fastify.js"
import { createNodeMiddleware } from "../../src/node.js"
import { createWebhookHandler } from "../../src/web.js"
import type { WebhookOptions } from "../../src/web.js"

/** The webhook mounted in a real framework, listening on an ephemeral port of 127.0.0.1. */
export interface Mounted {
  readonly url: string
  readonly close: () => Promise<void>
}

export type Framework = "hono" | "node:http" | "express" | "fastify"

export const PATH = "/api/intercom"

const listening = (server: Server, close: () => Promise<void>): Promise<Mounted> =>
  new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}${PATH}`,
        close: async () => {
          server.closeAllConnections()
          await new Promise((done) => server.close(done))
          await close()
        }
      })
    })
  })

/**
 * Each framework as its users set it up: Hono with the web handler, `node:http` and Express with the middleware
 * (Express with `express.json()` for its other routes), Fastify with the plugin beside a JSON route of its own.
 */
export const mountIn = async (framework: Framework, options: WebhookOptions): Promise<Mounted> => {
  switch (framework) {
    case "hono": {
      const handler = createWebhookHandler(options)
      const app = new Hono()
      app.all(PATH, (context) => handler(context.req.raw))
      return new Promise((resolve) => {
        const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
          resolve({
            url: `http://127.0.0.1:${info.port}${PATH}`,
            close: async () => {
              await new Promise((done) => server.close(done))
              await handler.close()
            }
          })
        })
      })
    }
    case "node:http": {
      const middleware = createNodeMiddleware({ ...options, path: PATH })
      return listening(createServer(middleware), middleware.close)
    }
    case "express": {
      const middleware = createNodeMiddleware(options)
      const app = express()
      app.all(PATH, middleware)
      app.use(express.json())
      app.post("/other", (request, response) => {
        response.json({ echoed: request.body as unknown })
      })
      return listening(createServer(app), middleware.close)
    }
    case "fastify": {
      const app = Fastify()
      await app.register(intercomWebhook({ ...options, path: PATH }))
      app.post("/other", async (request) => ({ echoed: request.body }))
      await app.listen({ port: 0, host: "127.0.0.1" })
      const { port } = app.server.address() as AddressInfo
      return { url: `http://127.0.0.1:${port}${PATH}`, close: () => app.close() }
    }
  }
}
