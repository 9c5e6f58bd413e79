// tollgate's dashboard: polls the admin API every two seconds and renders
// tables and sparklines. No framework; text goes in through textContent
// only, so names from the configuration cannot inject markup.
"use strict";

const POLL_MS = 2000;
const TOKEN_KEY = "tollgate-admin-token";
let checkedHash = null;

// Builds an element: el("td", {class: "num"}, "12").
function el(tag, attrs, ...children) {
  const node = tag === "svg" || tag === "polyline"
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) {
    node.append(c instanceof Node ? c : document.createTextNode(c === null || c === undefined ? "" : String(c)));
  }
  return node;
}

class Unauthorized extends Error {}

// A JSON call to the admin API with the token, if one was given.
async function api(path, method) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const res = await fetch(path, { method: method || "GET", headers, cache: "no-store" });
  if (res.status === 401) throw new Unauthorized();
  return res.json();
}

const fixed = (n, digits) => (n === null || n === undefined ? "–" : Number(n).toFixed(digits));
const percent = (r) => (r * 100).toFixed(1) + " %";

// A small line chart of `values` (oldest first), scaled to its maximum.
function sparkline(values, kind) {
  const w = 120, h = 24;
  const svg = el("svg", { class: "spark " + (kind || ""), width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img",
    "aria-label": values.length ? `last ${values.length} intervals, highest ${fixed(Math.max(...values), 1)}` : "no history yet" });
  if (values.length < 2) return svg;
  const max = Math.max(...values, 1e-9);
  const step = w / (values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`);
  svg.append(el("polyline", { points: points.join(" ") }));
  return svg;
}

function fill(tableId, rows, emptyText, columns) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { class: "empty", colspan: columns }, emptyText))]));
}

function trafficRows(list, key) {
  return list.map((t) => el("tr", { [key]: t.name },
    el("th", { scope: "row" }, t.name || "(no route matched)"),
    el("td", { class: "num rps" }, fixed(t.rps, 1)),
    el("td", { class: "num" }, percent(t.error_rate)),
    el("td", { class: "num" }, fixed(t.p50_ms, 1)),
    el("td", { class: "num" }, fixed(t.p95_ms, 1)),
    el("td", { class: "num" }, fixed(t.p99_ms, 1)),
    el("td", { class: "num requests" }, t.requests),
    el("td", {}, sparkline(t.rps_series))));
}

function renderTraffic(d) {
  document.getElementById("total-rps").textContent = fixed(d.total.rps, 1);
  document.getElementById("total-errors").textContent = percent(d.total.error_rate);
  const total = d.routes.reduce((n, r) => n + r.requests, 0);
  document.getElementById("total-requests").textContent = total;
  document.getElementById("total-spark").replaceChildren(sparkline(d.total.rps_series));
  document.getElementById("error-spark").replaceChildren(sparkline(d.total.error_series, "errors"));
  fill("routes", trafficRows(d.routes, "data-route"), "No request yet.", 8);
  fill("upstream-traffic", trafficRows(d.upstreams, "data-upstream"), "No upstream request yet.", 8);
  fill("auth", d.auth.map((a) => el("tr", {}, el("td", {}, a.policy), el("td", {}, a.result),
    el("td", { class: "num" }, a.last_minute), el("td", { class: "num" }, a.count))), "No auth policy decided a request yet.", 4);
  fill("limits", d.limits.map((l) => el("tr", {}, el("td", {}, l.policy),
    el("td", { class: "num" }, l.last_minute), el("td", { class: "num" }, l.count))), "No request refused by a limit.", 3);
  fill("consumers", d.consumers.map((c) => el("tr", {}, el("td", {}, c.name), el("td", { class: "num" }, c.requests))),
    "Requests are not counted per consumer in this build; see the Refusals above.", 2);
}

function renderTargets(u) {
  const blocks = u.upstreams.map((up) => {
    const rows = up.targets.map((t) => {
      const health = t.drained ? "drained" : t.healthy ? "healthy" : "unhealthy";
      const weight = t.weight_override === null || t.weight_override === undefined
        ? t.weight : `${t.weight} (set; file: ${t.configured_weight})`;
      return el("tr", { "data-target": t.address },
        el("th", { scope: "row" }, t.address),
        el("td", { class: "health " + health }, health),
        el("td", { class: "reason" }, t.reason || (t.available ? "" : "not available")),
        el("td", { class: "num" }, weight),
        el("td", { class: "num" }, t.in_flight),
        el("td", { class: "num" }, fixed(t.latency_ms, 1)),
        el("td", {}, (t.resolved || []).join(", ")));
    });
    const table = el("table", {}, el("thead", {}, el("tr", {}, ...["Target", "Health", "Why", "Weight", "In flight", "Latency ms", "Addresses"]
      .map((h) => el("th", { scope: "col" }, h)))), el("tbody", {}, ...rows));
    const breaker = up.breaker || "none";
    return el("div", { class: "upstream", "data-upstream": up.name },
      el("h3", {}, `${up.name} `, el("small", {}, `${up.available} of ${up.total} available · ${up.balance} · breaker `),
        el("small", { class: "breaker " + breaker }, breaker)),
      table);
  });
  document.getElementById("targets").replaceChildren(...(blocks.length ? blocks : [el("p", { class: "hint" }, "No upstream configured.")]));
}

function renderStatus(s) {
  const listeners = (s.listeners || []).map((l) => `${l.name} ${l.protocol} ${l.address}`).join(", ");
  document.getElementById("summary").textContent =
    `version ${s.version} · pid ${s.pid} · up ${s.uptime_seconds} s · ${s.ready ? "ready" : "not ready"} · ${s.workers} workers · ${listeners}`;
  document.getElementById("config-file").textContent = `File ${s.config.path}, hash ${s.config.hash || "unknown"}.`;
  const history = (s.reload_history || []).slice().reverse();
  fill("reloads", history.map((r) => el("tr", {},
    el("td", {}, r.at), el("td", {}, r.source),
    el("td", { class: r.result === "applied" ? "healthy" : "unhealthy" }, r.result + (r.reason ? `: ${r.reason}` : "")),
    el("td", {}, (r.config_hash || "").slice(0, 12)), el("td", {}, changeSummary(r.changes)))), "No reload since start.", 5);
}

// "routes: added a; changed b" from a reload's `changes`.
function changeSummary(changes) {
  if (!changes || typeof changes !== "object") return "";
  const parts = [];
  for (const [section, what] of Object.entries(changes)) {
    if (what && typeof what === "object" && !Array.isArray(what)) {
      const inner = Object.entries(what).filter(([, v]) => Array.isArray(v) ? v.length : v)
        .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(", ") : v}`);
      if (inner.length) parts.push(`${section}: ${inner.join("; ")}`);
    } else if (what) {
      parts.push(Array.isArray(what) ? `${section}: ${what.join(", ")}` : section);
    }
  }
  return parts.join(" · ") || "nothing";
}

function renderCertificates(c) {
  fill("certificates", c.certificates.map((x) => el("tr", {},
    el("td", {}, x.listener), el("td", {}, x.subject || x.error || ""),
    el("td", {}, [...(x.dns_names || []), ...(x.ip_addresses || [])].join(", ")),
    el("td", {}, x.not_after || ""),
    el("td", { class: "num " + (x.expires_in_seconds < 14 * 86400 ? "unhealthy" : "") },
      x.expires_in_seconds === null || x.expires_in_seconds === undefined ? "" : Math.floor(x.expires_in_seconds / 86400)))),
  "No HTTPS listener.", 5);
}

async function refresh() {
  try {
    const [data, ups, status, certs] = await Promise.all([
      api("/dashboard/data"), api("/upstreams"), api("/status"), api("/certificates")]);
    renderTraffic(data);
    renderTargets(ups);
    renderStatus(status);
    renderCertificates(certs);
    document.getElementById("problem").hidden = true;
  } catch (e) {
    if (e instanceof Unauthorized) {
      document.getElementById("login").hidden = false;
      return; // polling starts again once a token is given
    }
    const problem = document.getElementById("problem");
    problem.textContent = "Cannot reach the admin API: " + e.message;
    problem.hidden = false;
  }
  setTimeout(refresh, POLL_MS);
}

async function loadConfig() {
  try {
    document.getElementById("config").textContent = JSON.stringify(await api("/config"), null, 2);
  } catch (e) { /* shown by refresh */ }
}

// Dry run first: shows what the file would change; only then may it be applied.
async function dryRun() {
  const diff = document.getElementById("diff");
  const r = await api("/reload?dry_run=true", "POST");
  diff.hidden = false;
  if (r.errors && r.errors.length) {
    diff.textContent = "The file is refused:\n" + r.errors.map((e) => e.text || e.message).join("\n");
    checkedHash = null;
  } else {
    diff.textContent = "Applying would change: " + changeSummary(r.changes) + "\n\n" + JSON.stringify(r.changes, null, 2);
    checkedHash = r.config_hash;
  }
  document.getElementById("apply").disabled = checkedHash === null;
}

async function apply() {
  const r = await api("/reload", "POST");
  const diff = document.getElementById("diff");
  diff.textContent = r.applied ? "Applied: " + changeSummary(r.changes)
    : "Refused: " + (r.reason || "") + "\n" + (r.errors || []).map((e) => e.text || e.message).join("\n");
  if (r.applied && r.config_hash !== checkedHash) diff.textContent += "\n(the file changed after the dry run)";
  document.getElementById("apply").disabled = true;
  loadConfig();
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
    document.getElementById("login").hidden = true;
    loadConfig();
    refresh();
  });
  document.getElementById("dry-run").addEventListener("click", () => dryRun().catch(() => {}));
  document.getElementById("apply").addEventListener("click", () => apply().catch(() => {}));
  loadConfig();
  refresh();
});
