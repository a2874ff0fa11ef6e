// voxgate agent desk: the agent's state, the call's lead and bot findings (GET
// /ui/api/desk/ID/feed, server-sent events), disposition, ready and pause. Values go in as text.
"use strict";
(function () {
  const desk = document.getElementById("desk");
  if (!desk) return;
  const agent = desk.dataset.agent;
  const base = "/ui/api/desk/" + encodeURIComponent(agent);
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const $ = (id) => document.getElementById(id);
  const secs = (s) => (s < 60 ? s + " s" : Math.floor(s / 60) + " min " + (s % 60) + " s");
  let view = null;
  let seconds = 0;

  async function post(path, body) {
    const r = await fetch(base + path, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) alert(answer.error || "refused: " + r.status);
    return r.ok;
  }
  function rows(tbody, pairs) {
    tbody.replaceChildren();
    for (const [k, v] of pairs) {
      const tr = document.createElement("tr");
      const th = document.createElement("th"); th.textContent = k; tr.appendChild(th);
      const td = document.createElement("td"); td.textContent = v; td.dataset.key = k;
      tr.appendChild(td); tbody.appendChild(tr);
    }
  }
  function show(v) {
    view = v;
    const a = v.agent;
    $("desk-state").textContent = a.state;
    $("desk-state").className = "state state-" + a.state;
    seconds = a.seconds;
    $("desk-seconds").textContent = secs(seconds);
    $("desk-reason").textContent = a.reason ? "(" + a.reason + ")" : "";
    const call = v.call || v.last;
    $("call-panel").hidden = !call;
    if (call) {
      $("call-title").textContent = (v.call ? "On the call " : "Last call ") + call.call_id;
      rows(document.querySelector("#lead tbody"), [["name", call.name], ["number", call.number],
        ["campaign", call.campaign], ...Object.entries(call.fields)]);
      rows(document.querySelector("#bot tbody"), [["escalated", call.escalated ? "yes" : "no"],
        ["escalation reason", call.escalation_reason], ["hang-up reason", call.hangup_reason],
        ["DTMF", call.dtmf.join("; ")], ["stage", call.stage], ["events", call.events.join(", ")]]);
    }
    $("disposition-panel").hidden = !call || !call.campaign;
    if (call) {
      $("disposition-call").textContent = call.call_id;
      const select = $("code");
      if (select.dataset.codes !== v.codes.join(",")) {
        select.replaceChildren();
        for (const c of v.codes) {
          const o = document.createElement("option"); o.value = c; o.textContent = c;
          select.appendChild(o);
        }
        select.dataset.codes = v.codes.join(",");
      }
      $("saved").textContent = v.disposition ? "saved: " + v.disposition.code : "not set yet";
    }
  }
  setInterval(() => { if (view) $("desk-seconds").textContent = secs(++seconds); }, 1000);
  $("ready").addEventListener("click", () => post("/ready"));
  $("pause").addEventListener("click", () => post("/pause", { reason: $("pause-reason").value }));
  $("save-disposition").addEventListener("click", () => {
    const call = view && (view.call || view.last);
    if (call) post("/disposition", { call_id: call.call_id, code: $("code").value, notes: $("notes").value });
  });
  const source = new EventSource(base + "/feed");
  source.onmessage = (ev) => show(JSON.parse(ev.data));
})();
