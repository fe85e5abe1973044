import { Schema } from "effect"
import { topicSchemas } from "../../src/generated/index.js"
import { median } from "./median.js"
import { notificationOfSize } from "./requests.js"

/** Microseconds per call of `work`, median of `rounds` timed loops. */
const time = (work: () => void, iterations: number, rounds = 7): number => {
  for (let index = 0; index < iterations; index++) work()
  const samples: Array<number> = []
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint()
    for (let index = 0; index < iterations; index++) work()
    samples.push(Number(process.hrtime.bigint() - started) / 1000 / iterations)
  }
  return median(samples)
}

/** Decode cost per notification: JSON.parse alone, and JSON.parse + the generated schema (as a user decodes). */
export const decodeCosts = () =>
  [0, 300_000].map((size) => {
    const text = JSON.stringify(notificationOfSize(size))
    const decode = Schema.decodeUnknownSync(topicSchemas["conversations.closed"])
    const iterations = size > 10_000 ? 200 : 5000
    const parse = time(() => JSON.parse(text), iterations)
    const parseAndDecode = time(() => decode(JSON.parse(text)), iterations)
    return { bytes: text.length, parseUs: parse, parseAndDecodeUs: parseAndDecode, decodeUs: parseAndDecode - parse }
  })
