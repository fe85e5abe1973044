import { Console } from "effect"
import type { Notification } from "./Notification.js"
import { record, type Sink } from "./Sink.js"

const pretty = (notification: Notification): string =>
  [
    `${notification.receivedAt.toISOString()} ${notification.topic ?? "(no schema)"} <- ${notification.intercomTopic}`,
    `  id: ${notification.id ?? "-"}  app: ${notification.appId ?? "-"}`,
    ...JSON.stringify(notification.payload, null, 2).split("\n").map((line) => `  ${line}`)
  ].join("\n")

/** Writes each notification to stdout: the file sink's JSON record on one line, or an indented form to read. */
export const make = (format: "json" | "pretty"): Sink => ({
  name: "console",
  mode: "inline",
  deliver: (notification) =>
    format === "json"
      ? Console.log(Buffer.from(record(notification)).toString("utf8").trimEnd())
      : Console.log(pretty(notification))
})
