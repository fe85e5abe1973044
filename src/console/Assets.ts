/**
 * The console's stylesheet and script, served by the console itself (the Content-Security-Policy allows nothing else).
 * The script only writes text (`textContent`), never markup.
 */

export const css = `body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { display: flex; align-items: center; gap: 2em; padding: .5em 1.5em; background: #1d2330; color: #fff; }
header h1 { font-size: 1.2em; margin: 0; }
nav { display: flex; align-items: center; gap: 1em; flex: 1; }
nav a { color: #cfe0ff; }
nav a[aria-current] { color: #fff; font-weight: bold; }
nav .role { margin-left: auto; opacity: .8; }
nav form { margin: 0; }
main { padding: 1em 1.5em; }
table { border-collapse: collapse; background: #fff; margin: .5em 0 1em; }
th, td { border: 1px solid #d5d9e0; padding: .25em .6em; text-align: left; vertical-align: top; }
td { max-width: 40em; overflow-wrap: break-word; }
.number { text-align: right; }
td.time { white-space: nowrap; }
.state.healthy { color: #17702f; }
.state.failing, .state.probing { color: #b3261e; font-weight: bold; }
.error { color: #b3261e; }
.flash { background: #e6f4ea; border: 1px solid #17702f; padding: .5em; display: inline-block; }
.hint { color: #5a6170; }
form.filter label, form.replay label { margin-right: 1em; }
input, select, button { font: inherit; }
input[type=text] { width: 14em; }
input.query { width: 28em; }
pre.body { white-space: pre-wrap; overflow-wrap: anywhere; background: #fff; border: 1px solid #d5d9e0; padding: .5em;
  margin: .5em 0; font: 12px/1.4 ui-monospace, monospace; }
summary { cursor: pointer; }
table.facts th { background: #eef0f4; }
.mismatch { border: 2px solid #b3261e; background: #fdecea; padding: .25em 1em; }
.mismatch h2 { color: #b3261e; }
.match, .standing.current { color: #17702f; }
.schema-mismatch { color: #b3261e; font-weight: bold; }
.delivery.waiting { color: #a05a00; font-weight: bold; }
.delivery.dead { color: #b3261e; font-weight: bold; }
.delivery.delivered, .delivery.replayed { color: #17702f; }
dl.columns { display: grid; grid-template-columns: auto 1fr; gap: 0 .8em; margin: 0; }
dl.columns dt { color: #5a6170; }
dl.columns dd { margin: 0; overflow-wrap: anywhere; }
.chart { display: block; width: 100%; max-width: 760px; height: auto; background: #fff; border: 1px solid #d5d9e0; }
.chart .rule { stroke: #d5d9e0; }
.chart .label { font-size: 10px; fill: #5a6170; }
.legend { list-style: none; display: flex; gap: 1.2em; padding: 0; margin: .4em 0; }
.legend .swatch { width: 10px; height: 10px; margin-right: .3em; }
.outcome-accepted { fill: #2e7d32; }
.outcome-mismatch { fill: #f9a825; }
.outcome-duplicate { fill: #1e88e5; }
.outcome-refused { fill: #c62828; }
.outcome-failed { fill: #6a1b9a; }
`

export const js = `"use strict";
(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var CELL_CHARACTERS = 80;
  var poll = function (url, show) {
    var refresh = function () {
      fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } })
        .then(function (response) {
          if (response.status === 401) { location.assign("/login"); return; }
          if (response.ok) return response.json().then(show);
        })
        .catch(function () { /* the next poll tries again */ })
        .then(function () { setTimeout(refresh, 2000); });
    };
    setTimeout(refresh, 2000);
  };
  var age = function (ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor(s % 3600 / 60) + "m";
    return Math.floor(s / 86400) + "d " + Math.floor(s % 86400 / 3600) + "h";
  };
  var td = function (text, className, title) {
    var cell = document.createElement("td");
    cell.textContent = text;
    if (className) cell.className = className;
    if (title) cell.title = title;
    return cell;
  };
  /* As Html.cell: control characters shown as U+FFFD, a long value cut, the whole in the title. */
  var cut = function (value, className) {
    var text = String(value).replace(/[\\u0000-\\u001f\\u007f-\\u009f]/g, "\\ufffd");
    return text.length > CELL_CHARACTERS
      ? td(text.slice(0, CELL_CHARACTERS) + "\\u2026", className, text)
      : td(text, className);
  };
  var row = function (cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (cell) { tr.appendChild(cell); });
    return tr;
  };
  var text = function (id, value) {
    var node = document.getElementById(id);
    if (node !== null) node.textContent = String(value);
  };

  var ATTRIBUTES = ["x", "y", "x1", "y1", "x2", "y2", "width", "height", "class", "text-anchor"];
  var TAGS = ["rect", "line", "text"];
  var drawChart = function (chart) {
    var svg = document.getElementById("traffic-chart");
    if (svg === null) return;
    svg.setAttribute("viewBox", "0 0 " + Number(chart.width) + " " + Number(chart.height));
    svg.replaceChildren.apply(svg, chart.shapes.filter(function (shape) {
      return TAGS.indexOf(shape.tag) !== -1;
    }).map(function (shape) {
      var node = document.createElementNS(SVG, shape.tag);
      Object.keys(shape.attributes).forEach(function (name) {
        if (ATTRIBUTES.indexOf(name) !== -1) node.setAttribute(name, String(shape.attributes[name]));
      });
      if (shape.title) {
        var title = document.createElementNS(SVG, "title");
        title.textContent = shape.title;
        node.appendChild(title);
      }
      if (shape.text) node.appendChild(document.createTextNode(shape.text));
      return node;
    }));
  };

  var sinks = document.getElementById("sinks");
  if (sinks !== null) {
    poll("/api/overview", function (data) {
      var now = data.now;
      sinks.replaceChildren.apply(sinks, data.sinks.map(function (s) {
        return row([
          td(s.sink),
          td(s.state, "state " + s.state, s.error || ""),
          td(s.since === null ? "" : age(now - s.since) + " ago"),
          td(String(s.waiting), "number"),
          td(s.oldest === null ? "" : age(now - s.oldest))
        ]);
      }));
      var dead = document.getElementById("dead");
      dead.replaceChildren.apply(dead, data.deadLetters.groups.map(function (g) {
        var count = td("", "number");
        var link = document.createElement("a");
        link.href = "/dead-letters?" + new URLSearchParams({ sink: g.sink === null ? "" : g.sink, reason: g.reason });
        link.textContent = String(g.count);
        count.appendChild(link);
        return row([td(g.sink === null ? "(none)" : g.sink), td(g.reason), count]);
      }));
      text("dead-total", data.deadLetters.total);
      drawChart(data.traffic.chart);
      data.traffic.totals.forEach(function (total) {
        text("minute-" + total.outcome, total.lastMinute);
        text("hour-" + total.outcome, total.lastHour);
      });
      text("updated", new Date(now).toISOString());
    });
  }

  var list = document.getElementById("notifications");
  if (list !== null && list.dataset.poll) {
    var search = list.dataset.poll.slice(list.dataset.poll.indexOf("?") + 1);
    poll("/api/notifications?" + search, function (data) {
      list.replaceChildren.apply(list, data.rows.map(function (n) {
        var received = td("", "time");
        var link = document.createElement("a");
        link.href = "/notifications/" + Number(n.seq);
        link.textContent = n.receivedAt;
        received.appendChild(link);
        return row([
          received,
          cut(n.notificationId === null ? "(none)" : n.notificationId),
          cut(n.topic === null ? "(none)" : n.topic),
          cut(n.intercomTopic),
          cut(n.entity),
          cut(n.outcome),
          cut(n.schema, "schema-" + n.schema.replace(" ", "-"))
        ]);
      }));
      text("listing-status", data.status);
      var older = document.getElementById("older");
      if (data.older === null) older.hidden = true;
      else {
        var query = new URLSearchParams(search);
        query.set("after", data.older);
        older.href = "/notifications?" + query;
        older.hidden = false;
      }
    });
  }
})();
`
