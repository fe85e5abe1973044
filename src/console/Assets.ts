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
.state.healthy { color: #17702f; }
.state.failing, .state.probing { color: #b3261e; font-weight: bold; }
.error { color: #b3261e; }
.flash { background: #e6f4ea; border: 1px solid #17702f; padding: .5em; display: inline-block; }
.hint { color: #5a6170; }
form.filter label, form.replay label { margin-right: 1em; }
input, select, button { font: inherit; }
input[type=text] { width: 14em; }
`

export const js = `"use strict";
(function () {
  var sinks = document.getElementById("sinks");
  if (sinks === null) return;
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
  var row = function (cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (cell) { tr.appendChild(cell); });
    return tr;
  };
  var show = function (data) {
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
    document.getElementById("dead-total").textContent = String(data.deadLetters.total);
    document.getElementById("updated").textContent = new Date(now).toISOString();
  };
  var refresh = function () {
    fetch("/api/overview", { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) { location.assign("/login"); return; }
        if (response.ok) return response.json().then(show);
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { setTimeout(refresh, 2000); });
  };
  setTimeout(refresh, 2000);
})();
`
