import { Console } from "effect"
import type { Notification } from "../pipeline/Notification.js"
import { record, type Sink } from "./Sink.js"

/** The payload indented; one nested too deeply to indent is printed as it came. */
const indented = (notification: Notification): string => {
  try {
    return JSON.stringify(notification.payload, null, 2)
  } catch {
    return Buffer.from(notification.body).toString("utf8")
  }
}

const pretty = (notification: Notification): string =>
  [
    `${notification.receivedAt.toISOString()} ${notification.topic ?? "(no schema)"} <- ${notification.intercomTopic}`,
    `  id: ${notification.id ?? "-"}  app: ${notification.appId ?? "-"}`,
    ...(notification.schemaMismatch === undefined ? [] : [`  schema mismatch: ${notification.schemaMismatch}`]),
    ...indented(notification).split("\n").map((line) => `  ${line}`)
  ].join("\n")

/** A record without its newline: `Console.log` adds one. */
const printable = (line: Buffer): string => line.toString("utf8", 0, line.length - 1)

/** Writes each notification to stdout: the file sink's JSON record on one line, or an indented form to read. */
export const make = (format: "json" | "pretty"): Sink => ({
  name: "console",
  mode: "inline",
  input: "bytes",
  deliver: (notification) =>
    format === "json"
      ? Console.log(printable(record(notification)))
      : Console.log(pretty(notification))
})
