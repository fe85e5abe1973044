import express from "express"
import { createNodeMiddleware } from "intercom-webhook-receiver/node"
import { hooks } from "./hooks.js"

const webhook = createNodeMiddleware({ secret: process.env.INTERCOM_CLIENT_SECRET ?? "", hooks })

const app = express()
// Before any body parser: the webhook reads the raw body itself, to check its signature over the bytes sent.
app.all("/api/intercom", webhook)
app.use(express.json())
app.post("/api/echo", (request, response) => {
  response.json({ echoed: request.body as unknown })
})

const port = Number(process.env.PORT ?? 3000)
const server = app.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${port}/api/intercom`)
})
process.once("SIGTERM", () => server.close(() => void webhook.close()))
