// The floor's work (floor-work.mjs) as a user would write it with Fastify 5: the body kept as a Buffer by a content-type
// parser, then the same verify, parse and durable append. Same environment variables as floor.mjs.
import Fastify from "fastify"
import { receive } from "./floor-work.mjs"

const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 })
app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) => done(null, body))
app.post("/webhooks/intercom", (request, reply) => {
  receive(request.body, request.headers["x-hub-signature"], (status) => {
    if (status === 200) reply.code(200).send({ status: "accepted" })
    else reply.code(status).send()
  })
})
app.listen({ port: Number(process.env.PORT ?? 8081), host: "127.0.0.1" }).then(() =>
  process.stderr.write("Listening\n")
)
