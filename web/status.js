// The status page: the functions this replica runs (name, sha256, routes) and, from the runtime's
// own Prometheus metrics, the request rate and error counts per function.
import { cell } from "./common.js";
import { parseMetrics, requestCounts, scalar } from "./prom.js";

const intervalMs = Math.max(250, Number(new URLSearchParams(location.search).get("interval") ?? 5000) || 5000);
document.getElementById("interval").textContent = String(intervalMs / 1000);
const tbody = document.querySelector("#functions tbody");
const replica = document.getElementById("replica");
const error = document.getElementById("error");
let previous = null; // { at, start, counts }

async function poll() {
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
  } finally {
    document.body.dataset.polls = String(Number(document.body.dataset.polls ?? 0) + 1);
    setTimeout(poll, intervalMs);
  }
}

poll();
