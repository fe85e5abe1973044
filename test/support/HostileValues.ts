import { createHash } from "node:crypto"

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex")

/** A notification of a topic without a schema, as JSON text, so that any string can be its topic or id. */
export const notification = (topic: string, id: string) =>
  Buffer.from(JSON.stringify({
    type: "notification_event",
    topic,
    id,
    data: { item: { type: "ticket", id: "hostile" } }
  }))

/**
 * Topics and ids that no header can carry as they are, each with the `x-intercom-topic` and `x-notification-id` that
 * docs/sinks.md promises, the dedupe id (`Nats-Msg-Id`, `message_id`) and the subject or routing key.
 */
export const hostile = [
  {
    topic: "ticket.line\nbreak",
    id: "notif_line\r\nbreak",
    header: { topic: "ticket.line%0Abreak", id: "notif_line%0D%0Abreak" },
    dedupe: `sha256:${sha256("notif_line\r\nbreak")}`,
    route: "ticket.line_break"
  },
  {
    // A NUL is refused before anything is stored (no store keeps it as text); other control characters come through.
    topic: "ticket.bell\u0007",
    id: "notif_bell\u0007",
    header: { topic: "ticket.bell%07", id: "notif_bell%07" },
    dedupe: `sha256:${sha256("notif_bell\u0007")}`,
    route: "ticket.bell_"
  },
  {
    topic: "ticket.€uro",
    id: "notif_€",
    header: { topic: "ticket.%E2%82%ACuro", id: "notif_%E2%82%AC" },
    dedupe: `sha256:${sha256("notif_€")}`,
    route: "ticket._uro"
  },
  {
    topic: `ticket.${"é".repeat(193)}`,
    id: "€".repeat(200),
    header: { topic: `ticket.${"%C3%A9".repeat(193)}`, id: "%E2%82%AC".repeat(200) },
    dedupe: `sha256:${sha256("€".repeat(200))}`,
    route: `ticket.${"_".repeat(193)}`
  },
  {
    topic: "ticket.100% done",
    id: "notif_100%",
    header: { topic: "ticket.100%25%20done", id: "notif_100%25" },
    dedupe: `sha256:${sha256("notif_100%")}`,
    route: "ticket.100__done"
  },
  {
    // 201 empty tokens, each written `_`: 401 characters, over the routing key's 255 bytes unless cut.
    topic: ".".repeat(200),
    id: `notif_${"x".repeat(194)}`,
    header: { topic: ".".repeat(200), id: `notif_${"x".repeat(194)}` },
    dedupe: `notif_${"x".repeat(194)}`,
    route: `${"_.".repeat(91)}__${sha256(".".repeat(200)).slice(0, 16)}`
  }
]
