// The floor: the least a Node process can do and still be an honest durable receiver (see floor-work.mjs), on a bare
// node:http server. Usage: node scripts/bench/floor.mjs  (PORT, INTERCOM_CLIENT_SECRET, FILE_SINK_PATH from the environment)
import { createServer } from "node:http"
import { receive } from "./floor-work.mjs"

createServer((request, response) => {
  const chunks = []
  request.on("data", (chunk) => chunks.push(chunk))
  request.on("end", () =>
    receive(Buffer.concat(chunks), request.headers["x-hub-signature"], (status) =>
      status === 200
        ? response.writeHead(200, { "content-type": "application/json" }).end("{\"status\":\"accepted\"}")
        : response.writeHead(status).end()))
}).listen(Number(process.env.PORT ?? 8081), "127.0.0.1", () => process.stderr.write("Listening\n"))
