import { serve } from "@hono/node-server"
import { Hono } from "hono"
import { createWebhookHandler } from "intercom-webhook-receiver/web"
import { hooks } from "./hooks.js"

const webhook = createWebhookHandler({ secret: process.env.INTERCOM_CLIENT_SECRET ?? "", hooks })

const app = new Hono()
app.get("/", (context) => context.text("ok"))
// The handler reads the body itself: give it the untouched request.
app.all("/api/intercom", (context) => webhook(context.req.raw))

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: "127.0.0.1" }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}/api/intercom`)
})
process.once("SIGTERM", () => server.close(() => void webhook.close()))
