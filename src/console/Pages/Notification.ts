import { asBuffer } from "../../pipeline/Notification.js"
import type { LoggedNotificationWithBody } from "../../store/NotificationLog.js"
import type { SinkDelivery } from "../Deliveries.js"
import { cell, escape, page, printable, shortened, type Viewer } from "../Html.js"
import { type MirrorView, renderMirror } from "../MirrorView.js"
import { prettyJson } from "../PrettyJson.js"
import { termOf } from "../Search.js"
import { age } from "../Status.js"
import { schemaOf } from "./Notifications.js"

const fact = (name: string, value: string) => `<tr><th>${escape(name)}</th>${cell(value)}</tr>`

/** The entity as a search of every notification about it, when `q` can say it (no white space in it). */
const aboutLink = (entity: string) =>
  /\s/.test(entity)
    ? ""
    : ` <a href="/notifications?${
      escape(new URLSearchParams({ q: termOf({ _tag: "entity", entity }) }).toString())
    }">every notification about it</a>`

const facts = (logged: LoggedNotificationWithBody) =>
  `<table id="facts" class="facts"><tbody>
${fact("log seq", String(logged.seq))}
${fact("notification id", logged.notificationId ?? "(none)")}
${fact("topic", logged.topic ?? "(none: no schema for this Intercom topic)")}
${fact("Intercom topic", logged.intercomTopic)}
${fact("app id", logged.appId ?? "(none)")}
${fact("received at", logged.receivedAt.toISOString())}
<tr><th>about</th><td>${shortened(logged.entity)}${aboutLink(logged.entity)}</td></tr>
${fact("outcome", logged.outcome)}
${fact("schema", schemaOf(logged))}
${fact("sinks", logged.sinks.length === 0 ? "(none)" : logged.sinks.join(", "))}
</tbody></table>`

const body = (bytes: Uint8Array) => {
  const text = asBuffer(bytes).toString("utf8")
  const pretty = prettyJson(text)
  return `<section id="body">
<h2>Body</h2>
<details open><summary>${
    escape(`${bytes.byteLength} bytes as received${pretty === undefined ? " (not JSON: shown as text)" : ", indented"}`)
  }</summary><pre class="body">${escape(pretty ?? text)}</pre></details>
</section>`
}

const schema = (logged: LoggedNotificationWithBody) =>
  logged.schemaMismatch !== null
    ? `<section id="schema" class="mismatch" role="alert">
<h2>Schema mismatch</h2>
<p>It does not match the schema of <code>${escape(logged.topic ?? logged.intercomTopic)}</code>:</p>
<pre class="body">${escape(printable(logged.schemaMismatch))}</pre>
</section>`
    : `<section id="schema"><h2>Schema</h2><p class="match">${
      logged.topic === null
        ? `No schema: this service has none for the Intercom topic ${escape(logged.intercomTopic)}.`
        : `It matched the schema of <code>${escape(logged.topic)}</code>.`
    }</p></section>`

const deadLetterLink = (delivery: SinkDelivery & { readonly _tag: "dead" }, logged: LoggedNotificationWithBody) => {
  const query = new URLSearchParams({
    sink: delivery.sink ?? "",
    reason: delivery.letter.reason,
    topic: logged.topic ?? logged.intercomTopic,
    since: delivery.letter.deadAt.toISOString()
  })
  return `<a href="/dead-letters?${escape(query.toString())}">dead letter ${delivery.letter.id}</a>`
}

const deliveryRow = (delivery: SinkDelivery, logged: LoggedNotificationWithBody, now: number) => {
  const sink = cell(delivery.sink ?? "(none)")
  const state = (name: string) => `<td class="delivery ${name}">${name}</td>`
  switch (delivery._tag) {
    case "waiting": {
      const { attempts, lastError, nextAttemptAt } = delivery.waiting
      const failure = delivery.sinkFailure
      const next = failure === undefined ? nextAttemptAt.getTime() : Math.max(nextAttemptAt.getTime(), failure.probeAt)
      return `<tr>${sink}${state("waiting")}<td>${
        escape(
          `${attempts} attempt(s); next try ${new Date(next).toISOString()} (${
            next > now ? `in ${age(next - now)}` : "due"
          })`
        )
      }${lastError === null ? "" : `<br>last error: <span class="error">${shortened(lastError)}</span>`}${
        failure === undefined ?
          "" :
          `<br>the sink has been failing since ${
            escape(`${new Date(failure.since).toISOString()} (${age(now - failure.since)} ago)`)
          }: <span class="error">${shortened(failure.error)}</span>`
      }</td></tr>`
    }
    case "dead":
      return `<tr>${sink}${state("dead")}<td>${
        escape(
          `${delivery.letter.reason} at ${delivery.letter.deadAt.toISOString()}, after ${delivery.letter.attempts} attempt(s): `
        )
      }<span class="error">${shortened(delivery.letter.error)}</span> (${deadLetterLink(delivery, logged)})</td></tr>`
    case "replayed":
      return `<tr>${sink}${state("replayed")}<td>${
        escape(
          `dead letter ${delivery.letter.id} (${delivery.letter.reason}) replayed at ${delivery.letter.replayedAt?.toISOString()}${
            delivery.sink === null ? "" : ", then delivered"
          }`
        )
      }</td></tr>`
    case "delivered":
      return `<tr>${sink}${state("delivered")}<td></td></tr>`
  }
}

const deliveries = (logged: LoggedNotificationWithBody, found: ReadonlyArray<SinkDelivery>, now: number) =>
  `<section id="deliveries">
<h2>Deliveries</h2>
${
    found.length === 0
      ? `<p>${
        logged.outcome === "no_route" ? "No rule of ROUTES matched its topic: it went to no sink." : "No sink."
      }</p>`
      : `<table>
<thead><tr><th>sink</th><th>state</th><th>details</th></tr></thead>
<tbody>${found.map((delivery) => deliveryRow(delivery, logged, now)).join("")}</tbody>
</table>`
  }
</section>`

export const render = (
  logged: LoggedNotificationWithBody,
  found: ReadonlyArray<SinkDelivery>,
  mirror: MirrorView | undefined,
  viewer: Viewer,
  now: number
): string =>
  page(
    `Notification ${logged.seq}`,
    `<p><a href="/notifications">All notifications</a></p>
${facts(logged)}
${schema(logged)}
${deliveries(logged, found, now)}
${mirror === undefined ? "" : renderMirror(mirror)}
${body(logged.body)}`,
    viewer,
    "/notifications"
  )
