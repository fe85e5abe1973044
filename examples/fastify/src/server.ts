import Fastify from "fastify"
import { intercomWebhook } from "intercom-webhook-receiver/fastify"
import { hooks } from "./hooks.js"

const app = Fastify()
// The plugin keeps its bodies unparsed (the signature is checked over the bytes sent); the app's other routes parse
// JSON as usual.
await app.register(intercomWebhook({ path: "/api/intercom", secret: process.env.INTERCOM_CLIENT_SECRET ?? "", hooks }))
app.post("/api/echo", async (request) => ({ echoed: request.body }))

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: "127.0.0.1" })
console.log(`listening on ${address}/api/intercom`)
process.once("SIGTERM", () => void app.close())
