// The floor's work (floor-work.mjs) as a user would write it with Express 5: the raw body from express.raw, then the
// same verify, parse and durable append. Same environment variables as floor.mjs.
import express from "express"
import { receive } from "./floor-work.mjs"

const app = express()
app.post("/webhooks/intercom", express.raw({ type: "application/json", limit: "5mb" }), (request, response) => {
  receive(request.body, request.get("x-hub-signature"), (status) => {
    if (status === 200) response.status(200).json({ status: "accepted" })
    else response.sendStatus(status)
  })
})
app.listen(Number(process.env.PORT ?? 8081), "127.0.0.1", () => process.stderr.write("Listening\n"))
