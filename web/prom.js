// A parser for the Prometheus text exposition format (what /metrics serves), enough for the
// status page: samples with their labels; comments, HELP and TYPE lines are skipped.

/** Parses `name{a="x",b="y"} 12.5 [timestamp]` lines into `{name, labels, value}`. */
export function parseMetrics(text) {
  const samples = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\S+)?$/.exec(line);
    if (!m) continue;
    samples.push({ name: m[1], labels: m[2] ? parseLabels(m[2].slice(1, -1)) : {}, value: parseValue(m[3]) });
  }
  return samples;
}

function parseValue(s) {
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  return Number(s); // "NaN" -> NaN
}

function parseLabels(body) {
  const labels = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/g;
  let m;
  while ((m = re.exec(body)) !== null) {
    labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
  }
  return labels;
}

/**
 * Per function, from tarsd_function_requests_total: all requests, client errors (4xx) and server
 * errors (5xx), as counted since the process started.
 */
export function requestCounts(samples) {
  const out = {};
  for (const s of samples) {
    if (s.name !== "tarsd_function_requests_total") continue;
    const fn = s.labels.function ?? "";
    const c = (out[fn] ??= { requests: 0, clientErrors: 0, serverErrors: 0 });
    const status = Number(s.labels.status);
    c.requests += s.value;
    if (status >= 400 && status < 500) c.clientErrors += s.value;
    if (status >= 500) c.serverErrors += s.value;
  }
  return out;
}

/**
 * The samples of metric `name` whose labels include every one of `labels` exactly (so `k="v"` never
 * matches `xk="v"`).
 */
export function select(samples, name, labels = {}) {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of a sample with no labels (e.g. process_start_time_seconds), or undefined. */
export function scalar(samples, name) {
  return samples.find((s) => s.name === name)?.value;
}
