/**
 * What one string of a large body costs: the bench's 300 KB notification decoded from UTF-8 as one string (over V8's
 * 128 KB limit for a regular object, so in the large-object space, on pages mapped for it), as three strings under
 * the limit, and parsed. Prints wall time, CPU (user, system) and minor page faults per call.
 * Usage: npx tsx scripts/bench/big-strings.ts [--size BYTES] [--calls N]
 */
import { notificationOfSize } from "./requests.js"

const args = process.argv.slice(2)
const option = (name: string, fallback: number) => {
  const at = args.indexOf(name)
  return at === -1 ? fallback : Number(args[at + 1])
}
const body = Buffer.from(JSON.stringify(notificationOfSize(option("--size", 300_000))))
const calls = option("--calls", 1_000)
const third = Math.ceil(body.length / 3)
const pieces = [body.subarray(0, third), body.subarray(third, 2 * third), body.subarray(2 * third)]
const text = body.toString("utf8")

const measure = (name: string, work: () => unknown) => {
  for (let warm = 0; warm < 50; warm++) work()
  const before = process.resourceUsage()
  const started = process.hrtime.bigint()
  for (let call = 0; call < calls; call++) work()
  const wall = Number(process.hrtime.bigint() - started) / 1000 / calls
  const after = process.resourceUsage()
  const per = (field: "userCPUTime" | "systemCPUTime" | "minorPageFault") => (after[field] - before[field]) / calls
  console.log(
    `${name.padEnd(44)} ${wall.toFixed(0).padStart(6)} µs wall, ${per("userCPUTime").toFixed(0)} user, ${
      per("systemCPUTime").toFixed(0)
    } system, ${per("minorPageFault").toFixed(1)} page faults`
  )
}

console.log(`${body.length} B body, ${calls} calls each`)
measure("one string (toString)", () => body.toString("utf8"))
measure("three strings of a third each", () => pieces.map((piece) => piece.toString("utf8")))
measure("JSON.parse of one string made before", () => JSON.parse(text))
measure("JSON.parse(toString), as the service does", () => JSON.parse(body.toString("utf8")))
