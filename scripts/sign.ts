/**
 * npm run sign -- --secret S < body.json
 * Prints the X-Hub-Signature value Intercom would send for these exact bytes.
 */
import { sign } from "../src/pipeline/Signature.js"

const usage = `usage: npm run --silent sign -- [--secret S] < body.json

Prints the X-Hub-Signature value (sha1=<hex HMAC-SHA1>) of standard input's exact bytes.
  --secret S   the client secret; default: the first of INTERCOM_CLIENT_SECRET`

const args = process.argv.slice(2)
const at = args.indexOf("--secret")
const secret = at === -1 ? process.env.INTERCOM_CLIENT_SECRET?.split(",")[0]?.trim() : args[at + 1]

if (args.includes("--help") || args.includes("-h")) {
  process.stdout.write(usage + "\n")
} else if (!secret) {
  process.stderr.write(`give --secret or set INTERCOM_CLIENT_SECRET\n\n${usage}\n`)
  process.exitCode = 2
} else {
  const chunks: Array<Buffer> = []
  process.stdin.on("data", (chunk: Buffer) => chunks.push(chunk))
  process.stdin.on("end", () => process.stdout.write(sign(secret, Buffer.concat(chunks)) + "\n"))
}
