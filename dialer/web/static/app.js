// voxgate dashboard: fills the page from the live feed (GET /ui/api/live, server-sent events).
// Plain JS, no build step; every value goes in as text (never as HTML).
"use strict";
(function () {
  const page = document.body.dataset.page;
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const feedLine = document.getElementById("feed");
  const pct = (x) => (100 * x).toFixed(1) + " %";
  const secs = (s) => (s < 60 ? s + " s" : Math.floor(s / 60) + " min " + (s % 60) + " s");

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function button(td, label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", onClick);
    td.appendChild(b);
    return b;
  }
  async function post(url, body) {
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) alert(answer.error || "refused: " + r.status);
    return r.ok;
  }

  function campaignsTable(snap) {
    const focused = document.activeElement;
    if (focused && focused.classList.contains("aim")) return; // do not redraw under the typing
    const body = document.querySelector("#campaigns tbody");
    body.replaceChildren();
    for (const c of snap.campaigns) {
      const tr = document.createElement("tr");
      tr.dataset.campaign = c.name;
      cell(tr, c.name);
      cell(tr, c.status, "status");
      cell(tr, c.done + " / " + c.leads + " (" + pct(c.progress) + ")", "progress");
      cell(tr, String(c.in_flight), "in-flight");
      cell(tr, c.dial_level.toFixed(2));
      cell(tr, pct(c.answer_rate), "answer-rate");
      cell(tr, pct(c.abandon_24h), c.abandon_24h > c.cap ? "over" : "");
      cell(tr, pct(c.abandon_30d), c.abandon_30d > c.cap ? "over" : "");
      cell(tr, pct(c.cap));
      cell(tr, c.aim === null ? "–" : pct(c.aim), "aim");
      cell(tr, pct(c.occupancy));
      cell(tr, c.talk_min_per_agent_hour.toFixed(1));
      cell(tr, c.waiting_for_agent + (c.waiting_for_agent ? " (" + c.escalation_wait_s + " s)" : ""));
      const td = cell(tr, "");
      const base = "/ui/api/campaigns/" + encodeURIComponent(c.name);
      if (c.status === "paused") button(td, "Resume", () => post(base + "/resume"));
      else if (c.status === "running") button(td, "Pause", () => post(base + "/pause"));
      if (c.running && c.aim !== null) {
        const input = document.createElement("input");
        input.className = "aim";
        input.type = "number"; input.step = "0.001"; input.min = "0.001"; input.max = String(c.cap);
        input.value = c.aim.toFixed(3);
        td.appendChild(input);
        button(td, "Set aim", () => post(base + "/aim", { aim: Number(input.value) }));
      }
      body.appendChild(tr);
    }
    const stages = document.querySelector("#stages tbody");
    stages.replaceChildren();
    const names = Object.keys(snap.stages);
    if (!names.length) { const tr = document.createElement("tr"); cell(tr, "no call in flight"); stages.appendChild(tr); }
    for (const name of names) {
      const tr = document.createElement("tr");
      cell(tr, name); cell(tr, String(snap.stages[name]));
      stages.appendChild(tr);
    }
  }

  function agentsTable(snap, controls) {
    const body = document.querySelector("#agents tbody");
    body.replaceChildren();
    for (const a of snap.agents) {
      const tr = document.createElement("tr");
      tr.dataset.agent = a.id;
      cell(tr, a.id);
      cell(tr, a.state, "state state-" + a.state);
      cell(tr, secs(a.seconds));
      cell(tr, a.reason);
      cell(tr, a.nailed ? (a.nailed_leg || "down") : "–");
      cell(tr, a.call_id);
      cell(tr, String(a.calls));
      cell(tr, secs(Math.round(a.talk_s)));
      if (controls) {
        const td = cell(tr, "");
        if (a.state !== "offline") {
          button(td, "Log out", () => {
            if (confirm("Log agent " + a.id + " out?")) post("/ui/api/agents/" + encodeURIComponent(a.id) + "/logout");
          });
        }
      }
      body.appendChild(tr);
    }
  }

  // Charts over the shift (uPlot): calls in flight and leads done per campaign.
  const charts = {};
  const series = {};
  function chartFor(name) {
    if (charts[name] || typeof uPlot === "undefined") return charts[name];
    const holder = document.createElement("div");
    holder.className = "chart";
    const title = document.createElement("div");
    title.textContent = name;
    holder.appendChild(title);
    document.getElementById("charts").appendChild(holder);
    series[name] = series[name] || [[], [], []];
    charts[name] = new uPlot({
      width: 520, height: 220,
      series: [{}, { label: "in flight", stroke: "#1849a9" }, { label: "done", stroke: "#067647" }],
    }, series[name], holder);
    return charts[name];
  }
  function addPoint(name, at, inFlight, done) {
    const s = (series[name] = series[name] || [[], [], []]);
    if (s[0].length && at - s[0][s[0].length - 1] < 1) return;
    s[0].push(at); s[1].push(inFlight); s[2].push(done);
    const chart = chartFor(name);
    if (chart) chart.setData(s);
  }
  async function loadHistory() {
    const r = await fetch("/ui/api/history", { credentials: "same-origin" });
    if (!r.ok) return;
    const h = await r.json();
    const i = h.fields.indexOf("in_flight"), d = h.fields.indexOf("done");
    for (const [name, points] of Object.entries(h.campaigns)) {
      for (const p of points) addPoint(name, p[0], p[i], p[d]);
    }
  }

  function show(snap) {
    feedLine.textContent = "live · updated " + new Date(snap.at * 1000).toLocaleTimeString();
    feedLine.dataset.at = String(snap.at);
    if (page === "campaigns") {
      campaignsTable(snap);
      for (const c of snap.campaigns) addPoint(c.name, snap.at, c.in_flight, c.done);
    } else if (page === "agents") agentsTable(snap, true);
    else if (page === "desk") agentsTable(snap, false);
  }

  function connect() {
    const source = new EventSource("/ui/api/live");
    source.onmessage = (ev) => show(JSON.parse(ev.data));
    source.onerror = () => { feedLine.textContent = "feed interrupted: reconnecting…"; };
  }
  if (page === "campaigns") loadHistory().finally(connect);
  else if (page !== "audit") connect();
})();
