import { legend, svg } from "../Chart.js"
import { escape, page, type Viewer } from "../Html.js"
import { age, type Overview } from "../Status.js"
import type { Traffic } from "../Traffic.js"

/** What `/console.js` writes too when it refreshes the tables: keep both in step. */
const sinkRow = (sink: Overview["sinks"][number], now: number) =>
  `<tr><td>${escape(sink.sink)}</td><td class="state ${escape(sink.state)}"${
    sink.error === null ? "" : ` title="${escape(sink.error)}"`
  }>${escape(sink.state)}</td><td>${
    sink.since === null ? "" : escape(`${age(now - sink.since)} ago`)
  }</td><td class="number">${escape(sink.waiting)}</td><td>${
    sink.oldest === null ? "" : escape(age(now - sink.oldest))
  }</td></tr>`

const deadLetterRow = (group: Overview["deadLetters"]["groups"][number]) => {
  const query = new URLSearchParams({ sink: group.sink ?? "", reason: group.reason })
  return `<tr><td>${escape(group.sink ?? "(none)")}</td><td>${escape(group.reason)}</td><td class="number"><a href="${
    escape(`/dead-letters?${query}`)
  }">${escape(group.count)}</a></td></tr>`
}

/** The chart and the totals; `/console.js` redraws both from `/api/overview`. */
const trafficSection = (traffic: Traffic) =>
  `<section>
<h2>Notifications per minute, last hour</h2>
${svg(traffic.chart, "traffic-chart", "requests to the webhook per minute by outcome, the last 60 minutes")}
${legend()}
<table id="traffic-totals">
<thead><tr><th>outcome</th><th>this minute</th><th>last 60 minutes</th></tr></thead>
<tbody>${
    traffic.totals.map(({ lastHour, lastMinute, outcome }) =>
      `<tr><td>${escape(outcome)}</td><td class="number" id="minute-${escape(outcome)}">${
        escape(lastMinute)
      }</td><td class="number" id="hour-${escape(outcome)}">${escape(lastHour)}</td></tr>`
    ).join("")
  }</tbody>
</table>
</section>`

export const render = (overview: Overview, viewer: Viewer): string =>
  page(
    "Overview",
    `<section>
<h2>Sinks</h2>
<table>
<thead><tr><th>sink</th><th>state</th><th>failing since</th><th>waiting</th><th>oldest waiting</th></tr></thead>
<tbody id="sinks" data-overview>${overview.sinks.map((sink) => sinkRow(sink, overview.now)).join("")}</tbody>
</table>
</section>
<section>
<h2>Dead letters waiting: <span id="dead-total">${escape(String(overview.deadLetters.total))}</span></h2>
<table>
<thead><tr><th>sink</th><th>reason</th><th>count</th></tr></thead>
<tbody id="dead">${overview.deadLetters.groups.map(deadLetterRow).join("")}</tbody>
</table>
</section>
${trafficSection(overview.traffic)}
<section>
<p class="hint">Updated every 2 seconds; last at <span id="updated">${
      escape(new Date(overview.now).toISOString())
    }</span>.</p>
</section>`,
    viewer,
    "/"
  )
