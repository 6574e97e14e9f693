// The status page: the stack's firing alerts (the runtime's /alerts, from Alertmanager), the functions
// this replica runs (name, sha256, routes) and, from the runtime's own Prometheus metrics, the request
// rate and error counts per function.
import { cell, parseError } from "./common.js";
import { parseMetrics, requestCounts, scalar } from "./prom.js";

const intervalMs = Math.max(250, Number(new URLSearchParams(location.search).get("interval") ?? 5000) || 5000);
document.getElementById("interval").textContent = String(intervalMs / 1000);
const tbody = document.querySelector("#functions tbody");
const replica = document.getElementById("replica");
const error = document.getElementById("error");
const alertsSection = document.getElementById("alerts-section");
const alertsTable = document.getElementById("alerts");
const alertsBody = document.querySelector("#alerts tbody");
const alertsStatus = document.getElementById("alerts-status");
const alertsError = document.getElementById("alerts-error");
let previous = null; // { at, start, counts }

/** "3 min", "2 h 5 min", "4 d 1 h": how long since `ms` (a time in ms since the epoch). */
function elapsed(ms, now = Date.now()) {
  const minutes = Math.max(0, Math.floor((now - ms) / 60_000));
  if (minutes < 1) return "under a minute";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ""}`;
  return `${Math.floor(hours / 24)} d${hours % 24 ? ` ${hours % 24} h` : ""}`;
}

/** The section's state (data-state: firing, none, unconfigured, error), what it says, and the rows. */
function showAlerts(state, text, alerts = []) {
  alertsSection.dataset.state = state;
  alertsStatus.textContent = state === "error" ? "" : text;
  alertsError.textContent = state === "error" ? text : "";
  alertsBody.replaceChildren();
  alertsTable.hidden = alerts.length === 0;
  for (const alert of alerts) {
    const row = document.createElement("tr");
    row.dataset.alert = alert.name;
    row.dataset.severity = alert.severity ?? "";
    const severity = document.createElement("span");
    severity.className = `badge badge-${alert.severity ?? "none"}`;
    severity.textContent = alert.severity ?? "—";
    cell(row, severity, "Severity", "severity");
    cell(row, alert.name, "Alert", "name");
    const summary = document.createElement("div"); // one grid item when the row is a card (phones)
    const title = document.createElement("span");
    title.className = "alert-summary";
    title.textContent = alert.summary ?? "";
    const description = document.createElement("span");
    description.className = "alert-description";
    description.textContent = alert.description ?? "";
    summary.append(title, description);
    cell(row, summary, "Summary", "summary");
    const since = document.createElement("time");
    const started = Date.parse(alert.startsAt);
    if (Number.isNaN(started)) {
      since.textContent = "?";
    } else {
      since.dateTime = alert.startsAt;
      since.textContent = `${new Date(started).toLocaleString()} (${elapsed(started)})`;
    }
    cell(row, since, "Since", "since");
    alertsBody.append(row);
  }
}

async function pollAlerts() {
  let res;
  try {
    res = await fetch("/alerts");
  } catch (err) {
    return showAlerts("error", `Could not read the alerts: ${err.message}`);
  }
  const text = await res.text().catch(() => "");
  const body = parseError(text);
  if (!res.ok) {
    const reason = body && typeof body.error === "string" ? body.error : `HTTP ${res.status}`;
    return showAlerts("error", `Could not read the alerts: ${reason}`);
  }
  if (!body || !Array.isArray(body.alerts)) return showAlerts("error", "Could not read the alerts: not a list");
  if (!body.configured) {
    return showAlerts(
      "unconfigured",
      "Alerts are not configured on this replica: it has no Alertmanager to ask (ALERTMANAGER_URL is not set).",
    );
  }
  if (body.alerts.length === 0) return showAlerts("none", "None firing.");
  const n = body.alerts.length;
  return showAlerts("firing", `${n} alert${n === 1 ? "" : "s"} firing.`, body.alerts);
}

async function pollFunctions() {
  try {
    const [functions, metricsText] = await Promise.all([
      fetch("/functions").then((r) => (r.ok ? r.json() : Promise.reject(new Error(`/functions: HTTP ${r.status}`)))),
      fetch("/metrics").then((r) => (r.ok ? r.text() : Promise.reject(new Error(`/metrics: HTTP ${r.status}`)))),
    ]);
    const samples = parseMetrics(metricsText);
    const counts = requestCounts(samples);
    const start = scalar(samples, "process_start_time_seconds");
    const at = performance.now();
    const sameReplica = previous && previous.start === start;
    const seconds = sameReplica ? (at - previous.at) / 1000 : 0;
    tbody.replaceChildren();
    for (const fn of functions) {
      const c = counts[fn.name] ?? { requests: 0, clientErrors: 0, serverErrors: 0 };
      const before = sameReplica ? previous.counts[fn.name] ?? { requests: 0 } : null;
      const rate = before && seconds > 0 ? ((c.requests - before.requests) / seconds).toFixed(2) : "…";
      const row = document.createElement("tr");
      row.dataset.function = fn.name;
      cell(row, fn.name, "Function", "name");
      const sha = document.createElement("code");
      sha.textContent = fn.sha256;
      cell(row, sha, "SHA-256", "sha");
      const routes = document.createElement("code");
      routes.textContent = fn.routes.map((r) => `${r.method} ${r.path}`).join("\n");
      cell(row, routes, "Routes", "routes");
      cell(row, rate, "Requests/s", "num rate");
      cell(row, String(c.requests), "Requests", "num requests");
      cell(row, String(c.clientErrors), "Client errors (4xx)", "num client-errors");
      cell(row, String(c.serverErrors), "Server errors (5xx)", "num server-errors");
      tbody.append(row);
    }
    const uptime = start ? Math.round(Date.now() / 1000 - start) : null;
    replica.textContent = `Replica up ${uptime === null ? "?" : `${uptime} s`}; updated ${
      new Date().toLocaleTimeString()
    }.`;
    error.textContent = "";
    previous = { at, start, counts };
  } catch (err) {
    error.textContent = `Could not read the status: ${err.message}`;
  }
}

async function poll() {
  try {
    await Promise.all([pollFunctions(), pollAlerts()]);
  } finally {
    document.body.dataset.polls = String(Number(document.body.dataset.polls ?? 0) + 1);
    setTimeout(poll, intervalMs);
  }
}

poll();
