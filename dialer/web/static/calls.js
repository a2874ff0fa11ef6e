// voxgate dashboard, calls page: the calls in flight, refreshed every 2 s from
// /ui/api/calls/live (plain JS, no build step; text set with textContent, never as HTML).
(function () {
  "use strict";
  var SHOWN = 100;
  var body = document.querySelector("#live tbody");
  var summary = document.getElementById("live-summary");
  if (!body || !summary) return;

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function draw(calls) {
    var now = Date.now() / 1000;
    var stages = {};
    calls.forEach(function (c) { stages[c.stage] = (stages[c.stage] || 0) + 1; });
    var by = Object.keys(stages).sort().map(function (k) { return k + " " + stages[k]; });
    summary.textContent = calls.length + " in flight" + (by.length ? " (" + by.join(", ") + ")" : "") +
      (calls.length > SHOWN ? "; the " + SHOWN + " longest shown" : "");
    var rows = document.createDocumentFragment();
    calls.slice(0, SHOWN).forEach(function (c) {
      var tr = document.createElement("tr");
      tr.dataset.live = c.call_id;
      [c.call_id, c.number, c.campaign].forEach(function (t) { cell(tr, t); });
      cell(tr, c.stage).className = "stage";
      cell(tr, c.agent);
      cell(tr, Math.max(0, Math.round(now - c.since)) + " s");
      rows.appendChild(tr);
    });
    if (!calls.length) {
      var tr = document.createElement("tr");
      cell(tr, "no call in flight").colSpan = 6;
      rows.appendChild(tr);
    }
    body.replaceChildren(rows);
    summary.dataset.updated = String(Date.now());
  }

  function poll() {
    fetch("/ui/api/calls/live", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) draw(data.calls); })
      .catch(function () { /* the next poll tries again */ })
      .finally(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 2000);
})();
