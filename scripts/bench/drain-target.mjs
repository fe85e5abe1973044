// The `http` sink's target in `npm run bench -- --drain` (scripts/bench/drain.ts): a process of its own, so that
// answering costs nothing on the service's event loop. Answers every POST 200 at once (keep-alive) and records each
// one's `x-notification-id` and arrival time (epoch ms). GET /stats: {"count","first","last","listeningAt"};
// GET /log: one `id<TAB>ms` line per POST, in arrival order. On SIGTERM, and when its parent goes (the IPC channel
// closes), it writes the same log to LOG_FILE (if set) and exits.
// Usage: PORT=18211 [LOG_FILE=path] node scripts/bench/drain-target.mjs (prints "listening <epoch ms>" when ready)
import { writeFileSync } from "node:fs"
import { createServer } from "node:http"

const ids = []
const times = []
let listeningAt = 0

const log = () => ids.map((id, index) => `${id}\t${times[index]}\n`).join("")

const server = createServer((request, response) => {
  if (request.method === "GET") {
    const body = request.url === "/log"
      ? log()
      : JSON.stringify({ count: ids.length, first: times[0] ?? null, last: times.at(-1) ?? null, listeningAt })
    response.writeHead(200, { "content-type": "text/plain" }).end(body)
    return
  }
  request.resume()
  request.on("end", () => {
    ids.push(request.headers["x-notification-id"] ?? "")
    times.push(Date.now())
    response.writeHead(200, { "content-length": "0" }).end()
  })
})
server.keepAliveTimeout = 60_000

const exit = () => {
  if (process.env.LOG_FILE !== undefined) writeFileSync(process.env.LOG_FILE, log())
  process.exit(0)
}
process.on("SIGTERM", exit)
process.on("SIGINT", exit)
process.on("disconnect", exit)

server.listen(Number(process.env.PORT ?? 18_211), "127.0.0.1", () => {
  listeningAt = Date.now()
  process.stdout.write(`listening ${listeningAt}\n`)
})
