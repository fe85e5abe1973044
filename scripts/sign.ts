/**
 * npm run sign -- --secret S < body.json
 * Prints the X-Hub-Signature value Intercom would send for these exact bytes.
 */
import { Console, Effect } from "effect"
import { sign } from "../src/pipeline/Signature.js"
import { main, UsageError } from "./cli/Args.js"

const command = {
  name: "sign",
  usage: "usage: npm run --silent sign -- [--secret S] < body.json",
  help: `Prints the X-Hub-Signature value (sha1=<hex HMAC-SHA1>) of standard input's exact bytes.
  --secret S   the client secret; default: the first of INTERCOM_CLIENT_SECRET
Exit code: 0 done, 2 usage (a wrong option, no secret).`,
  options: { secret: "string" },
  positionals: 0
} as const

const stdin = Effect.async<Buffer>((resume) => {
  const chunks: Array<Buffer> = []
  process.stdin.on("data", (chunk: Buffer) => chunks.push(chunk))
  process.stdin.on("end", () => resume(Effect.succeed(Buffer.concat(chunks))))
})

main(command, ({ options }) =>
  Effect.gen(function*() {
    const secret = options.secret ?? process.env.INTERCOM_CLIENT_SECRET?.split(",")[0]?.trim()
    if (!secret) return yield* new UsageError({ message: "give --secret or set INTERCOM_CLIENT_SECRET" })
    yield* Console.log(sign(secret, yield* stdin))
  }))
