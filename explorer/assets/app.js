// fedledger explorer: reads /api/ and draws the page. No library, nothing
// fetched from elsewhere; everything the chain says is inserted as text.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const COLORS = ["#1a56b8", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#e67700", "#5c940d", "#364fc7", "#a61e4d"];

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function api(path, opts) {
  const r = await fetch("api/" + path, opts);
  let body;
  try { body = await r.json(); } catch (e) { throw new Error(path + ": HTTP " + r.status); }
  if (!r.ok && r.status !== 409) throw new Error(body.error || ("HTTP " + r.status));
  return body;
}

const short = (h) => (h ? h.slice(0, 12) + "…" : "–");
const fmt = (x, d = 3) => (typeof x === "number" ? x.toFixed(d) : "–");

// lineChart draws series [{name, rounds: [x], values: [y]}] as an SVG.
function lineChart(id, title, series, opts) {
  const W = 580, H = 300, L = 48, R = 120, T = 28, B = 36;
  const chart = svg("svg", { id, class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  chart.append(svg("text", { x: L, y: 17, class: "title" }, title));
  const xs = series.flatMap((s) => s.rounds), ys = series.flatMap((s) => s.values);
  if (xs.length === 0) {
    chart.append(svg("text", { x: L, y: H / 2 }, "no values yet"));
    return chart;
  }
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (x1 === x0) x1 = x0 + 1;
  let y0 = opts && opts.y0 !== undefined ? opts.y0 : Math.min(...ys), y1 = opts && opts.y1 !== undefined ? opts.y1 : Math.max(...ys);
  if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
  if (!opts || opts.y0 === undefined) {
    const pad = (y1 - y0) * 0.05;
    y0 -= pad; y1 += pad;
  }
  const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  for (let k = 0; k <= 4; k++) {
    const y = y0 + ((y1 - y0) * k) / 4;
    chart.append(svg("line", { x1: L, x2: W - R, y1: py(y), y2: py(y), class: "grid" }));
    chart.append(svg("text", { x: L - 6, y: py(y) + 4, "text-anchor": "end" }, y.toFixed(2)));
  }
  const step = Math.max(1, Math.ceil((x1 - x0) / 10));
  for (let x = Math.ceil(x0); x <= x1; x += step) {
    chart.append(svg("text", { x: px(x), y: H - B + 15, "text-anchor": "middle" }, x));
  }
  chart.append(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
  chart.append(svg("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
  chart.append(svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, (opts && opts.xlabel) || "round"));
  series.forEach((s, k) => {
    const mean = s.name === "mean";
    const color = mean ? "#1d2330" : COLORS[k % COLORS.length];
    const pts = s.rounds.map((x, j) => `${px(x).toFixed(1)},${py(s.values[j]).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { points: pts, fill: "none", stroke: color, "stroke-width": mean ? 3 : 1.6, class: "series", "data-name": s.name }));
    s.rounds.forEach((x, j) => chart.append(svg("circle", { cx: px(x), cy: py(s.values[j]), r: mean ? 2.5 : 2, fill: color },
      svg("title", {}, `${s.name}, ${x}: ${fmt(s.values[j])}`))));
    const ly = T + 8 + k * 16;
    chart.append(svg("line", { x1: W - R + 14, x2: W - R + 32, y1: ly, y2: ly, stroke: color, "stroke-width": mean ? 3 : 2 }));
    chart.append(svg("text", { x: W - R + 37, y: ly + 4 }, s.name));
  });
  return chart;
}

// series mirrors fl/history: each hospital's metric of a round's input
// model, at x = round - 1; the final reports at the task's model round.
function metricSeries(h, key, withFinal) {
  const by = new Map(), mean = { name: "mean", rounds: [], values: [] };
  const add = (name, x, v) => {
    if (!by.has(name)) by.set(name, { name, rounds: [], values: [] });
    by.get(name).rounds.push(x); by.get(name).values.push(v);
  };
  for (const r of h.rounds) {
    if (!r.submissions.length) continue;
    let sum = 0;
    for (const s of r.submissions) { add(s.hospital, r.round - 1, s[key]); sum += s[key]; }
    mean.rounds.push(r.round - 1); mean.values.push(sum / r.submissions.length);
  }
  const fin = h.task.final;
  if (withFinal && fin) {
    for (const [name, a] of Object.entries(fin.accuracy)) add(name, h.task.model_round, a);
    mean.rounds.push(h.task.model_round); mean.values.push(fin.mean_accuracy);
  }
  const out = [...by.keys()].sort().map((n) => by.get(n));
  if (mean.rounds.length) out.push(mean);
  return out;
}

function reputationSeries(h) {
  const by = new Map();
  for (const r of h.rounds) for (const c of r.reputation || []) {
    if (!by.has(c.hospital)) by.set(c.hospital, { name: c.hospital, rounds: [], values: [] });
    by.get(c.hospital).rounds.push(r.round); by.get(c.hospital).values.push(c.score);
  }
  return [...by.keys()].sort().map((n) => by.get(n));
}

async function showStatus() {
  try {
    const s = await api("status");
    document.getElementById("status").textContent = `chain ${s.chain_id} · node ${s.node} · height ${s.height}`;
    document.getElementById("trust").textContent = "Verification: " + s.trust + ".";
    return s;
  } catch (e) {
    document.getElementById("status").textContent = "node unreachable: " + e.message;
    return null;
  }
}

async function showTasks(main) {
  const tasks = await api("tasks");
  const rows = tasks.map((t) => el("tr", {},
    el("td", {}, el("a", { href: `#/task/${t.id}` }, `task ${t.id}`)),
    el("td", {}, t.name),
    el("td", { class: "status-" + t.status }, t.status),
    el("td", { class: "num" }, `${t.current_round} / ${t.rounds}`),
    el("td", {}, `${t.rule} + ${t.server_opt}`),
    el("td", {}, t.hospitals.join(", ")),
    el("td", { class: "num" }, t.final ? fmt(t.final.mean_accuracy) : "–"),
    el("td", { class: "hash" }, short(t.model_hash))));
  main.replaceChildren(el("h1", {}, "Tasks"),
    tasks.length === 0 ? el("p", { class: "muted" }, "No task on this chain yet.") :
      el("table", { id: "tasks" }, el("tr", {}, ["task", "name", "status", "round", "rule", "hospitals", "final accuracy", "model"].map((h) => el("th", {}, h))), rows));
}

function settingsList(t) {
  const s = t.settings, items = [
    ["creator", t.creator], ["model", t.model], ["rule", `${t.rule}${t.reputation ? " with on-chain reputation" : ""}`],
    ["server optimizer", t.server_opt], ["hospitals", t.hospitals.join(", ")], ["rounds", `${t.current_round} of ${t.rounds}`],
    ["windows", `commit ${s.commit_window} blocks, reveal ${s.reveal_window} blocks, at least ${s.min_participants} hospitals`],
    ["fixed point", `2^-${s.frac_bits}, updates ${s.compression}`], ["created at height", t.created_height],
  ];
  if (t.finished_height) items.push(["finished at height", t.finished_height]);
  if (t.data_scope) items.push(["data scope", t.data_scope]);
  if (t.cancel_note) items.push(["cancelled", t.cancel_note]);
  if (t.final) items.push(["final model", `mean test accuracy ${fmt(t.final.mean_accuracy)}, reported by ${t.final.reported} of ${t.final.invited} hospitals`]);
  return el("dl", { class: "settings" }, items.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function roundsTable(h) {
  const rows = h.rounds.map((r) => {
    const revealed = r.submissions.filter((s) => s.revealed).length;
    const excluded = r.submissions.filter((s) => s.revealed && s.rule_weight === 0).map((s) => s.hospital);
    const model = r.phase === "closed" && r.output_model_hash ?
      [el("span", { class: "hash" }, short(r.output_model_hash)), " ",
        el("span", { class: "badge pending", id: `verify-${r.round}` }, "checking…"), " ",
        el("a", { href: `api/tasks/${h.task.id}/rounds/${r.round}/model`, download: "", class: "model-dl" }, "model")] : "–";
    return el("tr", { id: `round-${r.round}` },
      el("td", { class: "num" }, r.round), el("td", {}, r.phase),
      el("td", { class: "num" }, `${revealed}/${r.submissions.length}`),
      el("td", { class: "num" }, r.aggregated),
      el("td", { class: "num" }, r.submissions.length ? fmt(r.input_model_mean_accuracy) : "–"),
      el("td", {}, excluded.length ? "weight 0: " + excluded.join(", ") : ""),
      el("td", { class: "num" }, r.closed_height || "–"),
      el("td", {}, r.outcome || ""), el("td", { class: "model" }, model));
  });
  return el("table", { id: "rounds" },
    el("tr", {}, ["round", "phase", "revealed", "aggregated", "input acc.", "excluded", "closed at", "outcome", "output model"].map((x) => el("th", {}, x))), rows);
}

function reputationTable(h) {
  const rows = [];
  for (const r of h.rounds) for (const c of r.reputation || []) {
    rows.push(el("tr", {}, el("td", { class: "num" }, r.round), el("td", {}, c.hospital),
      el("td", { class: "num" }, (c.delta >= 0 ? "+" : "") + c.delta.toFixed(2)), el("td", { class: "num" }, c.score.toFixed(2)),
      el("td", {}, c.flagged ? el("span", { class: "badge flagged" }, "FLAGGED") : ""),
      el("td", { class: c.reasons && c.reasons.length ? "" : "muted" }, c.reasons && c.reasons.length ? c.reasons.join("; ") : "no evidence against it this round")));
  }
  if (!rows.length) return el("p", { class: "muted" }, h.task.reputation ? "No reputation change yet." : "This task does not score reputation.");
  return el("table", { id: "reputation" }, el("tr", {}, ["round", "hospital", "change", "score", "", "reasons"].map((x) => el("th", {}, x))), rows);
}

// verifyRounds asks the explorer to check each closed round's model, one
// at a time, and fills in its badge.
async function verifyRounds(h, token) {
  for (const r of h.rounds) {
    if (r.phase !== "closed" || !r.output_model_hash) continue;
    const badge = document.getElementById(`verify-${r.round}`);
    if (!badge || token !== viewToken) return;
    try {
      const v = await api(`tasks/${h.task.id}/rounds/${r.round}/verify`);
      if (v.verified && v.model_hash === r.output_model_hash) {
        badge.className = "badge verified"; badge.textContent = `✓ verified at height ${v.height}`;
        badge.title = `Merkle proof of the model record against app hash ${v.app_hash}, from a header the light client verified`;
      } else if (v.verified) {
        badge.className = "badge failed"; badge.textContent = "✗ hash differs from the round's";
      } else {
        badge.className = "badge unverified"; badge.textContent = "not verified"; badge.title = v.problem || "";
      }
    } catch (e) {
      badge.className = "badge failed"; badge.textContent = "✗ " + e.message;
    }
  }
}

function auditPanel(h, st) {
  const result = el("span", { id: "audit-result" });
  const prog = el("progress", { id: "audit-progress", max: 1, value: 0 });
  const button = el("button", { id: "audit-button" }, "Run audit replay");
  if (!st || !st.audit) { button.disabled = true; result.textContent = "no node to replay from"; }
  button.addEventListener("click", async () => {
    button.disabled = true; result.className = ""; result.textContent = "starting…";
    try {
      let job = await api(`tasks/${h.task.id}/audit`, { method: "POST" });
      if (job.task !== h.task.id) { result.textContent = `the explorer is auditing task ${job.task}; try again when it is done`; button.disabled = false; return; }
      while (!job.done) {
        prog.max = Math.max(job.top, 1); prog.value = job.height;
        result.textContent = job.top ? `replayed block ${job.height} of ${job.top}` : "fetching the genesis…";
        await new Promise((ok) => setTimeout(ok, 400));
        job = await api(`audits/${job.id}`);
      }
      prog.max = Math.max(job.top, 1); prog.value = job.top;
      if (job.ok) {
        result.className = "ok";
        result.textContent = `OK: all ${job.report.rounds.length} rounds replayed and verified over ${job.report.blocks_replayed} blocks from genesis ${short(job.report.genesis_hash)} (${job.seconds.toFixed(1)} s)`;
      } else {
        result.className = "bad";
        const bad = job.report ? job.report.rounds.filter((r) => !r.ok).map((r) => `round ${r.round}: ${r.problem}`) : [];
        result.textContent = "FAILED: " + (job.error || job.report.chain_problem || bad.join("; ") || "reputation: " + job.report.reputation);
      }
    } catch (e) {
      result.className = "bad"; result.textContent = "FAILED: " + e.message;
    }
    button.disabled = false;
  });
  return el("div", { class: "actions" }, button, prog, result);
}

let viewToken = 0;
let refreshTimer = null;

async function showTask(main, id, st) {
  const token = viewToken;
  const h = await api(`tasks/${id}`);
  if (token !== viewToken) return;
  const t = h.task;
  const charts = [
    lineChart("chart-accuracy", "Test accuracy per hospital (model of round x)", metricSeries(h, "accuracy", true), { y0: 0, y1: 1, xlabel: "model of round (0: initial)" }),
    lineChart("chart-loss", "Test loss per hospital (model of round x)", metricSeries(h, "loss", false), { xlabel: "model of round (0: initial)" }),
  ];
  if (t.reputation) charts.push(lineChart("chart-reputation", "Reputation score (flagged below 0.5)", reputationSeries(h), { y0: 0, y1: 1, xlabel: "after round" }));
  main.replaceChildren(
    el("p", {}, el("a", { href: "#/" }, "← all tasks")),
    el("h1", { id: "task-title" }, `Task ${t.id} “${t.name}” `, el("span", { class: "status-" + t.status }, t.status)),
    el("section", { class: "card" }, settingsList(t)),
    el("section", { class: "card actions" },
      el("a", { class: "button plain", id: "dl-csv", href: `api/tasks/${t.id}/history.csv`, download: "" }, "History (CSV)"),
      el("a", { class: "button plain", id: "dl-json", href: `api/tasks/${t.id}/history.json`, download: "" }, "History (JSON)"),
      el("a", { class: "button plain", id: "dl-model", href: `api/tasks/${t.id}/rounds/${t.model_round}/model`, download: "" }, `Model of round ${t.model_round}`)),
    el("h2", {}, "Learning"), el("div", { class: "charts" }, charts),
    el("h2", {}, "Rounds"), roundsTable(h),
    el("h2", {}, "Reputation"), reputationTable(h),
    el("h2", {}, "Audit"),
    el("p", { class: "muted" }, "Replays every block from the genesis through a fresh fedledger app in the explorer and checks every round's aggregation, model hash and reputation against the chain."),
    auditPanel(h, st));
  verifyRounds(h, token);
  if (t.status === "running") refreshTimer = setTimeout(route, 3000);
}

async function route() {
  clearTimeout(refreshTimer);
  viewToken++;
  const main = document.getElementById("main");
  const st = await showStatus();
  const m = location.hash.match(/^#\/task\/(\d+)$/);
  try {
    if (m) await showTask(main, Number(m[1]), st);
    else await showTasks(main);
  } catch (e) {
    main.replaceChildren(el("p", { class: "error" }, "Could not read the chain: " + e.message));
  }
}

window.addEventListener("hashchange", route);
route();
