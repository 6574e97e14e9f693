// The runtime's Prometheus metrics, on prom-client's default registry (functions may register
// their own there too). Label values are route templates, never raw paths, to bound cardinality.
import client from "prom-client";

export const registry = client.register;
client.collectDefaultMetrics({ register: registry });

const routeLabels = ["function", "method", "route"] as const;

export const requestsTotal = new client.Counter({
  name: "tarsd_function_requests_total",
  help: "Requests handled, by function, method, route template and status code.",
  labelNames: [...routeLabels, "status"],
});

export const requestDuration = new client.Histogram({
  name: "tarsd_function_request_duration_seconds",
  help: "Time from request to response headers; includes reading the whole upload body.",
  labelNames: routeLabels,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
});

export const requestBytes = new client.Counter({
  name: "tarsd_function_request_bytes_total",
  help: "Request body bytes received (Content-Length when given).",
  labelNames: routeLabels,
});

export const responseBytes = new client.Counter({
  name: "tarsd_function_response_bytes_total",
  help: "Response body bytes sent (Content-Length when given).",
  labelNames: routeLabels,
});

export const functionInfo = new client.Gauge({
  name: "tarsd_function_info",
  help: "1 for each function file this process loaded, labelled with the sha256 of its content.",
  labelNames: ["function", "sha256"],
});

export const ready = new client.Gauge({
  name: "tarsd_ready",
  help: "1 while the process takes traffic, 0 once it is draining for shutdown.",
});

export interface RequestObservation {
  fn: string;
  method: string;
  route: string;
  status: number;
  seconds: number;
  bytesIn: number;
  bytesOut: number;
}

export function observeRequest(o: RequestObservation): void {
  const labels = { function: o.fn, method: o.method, route: o.route };
  requestsTotal.inc({ ...labels, status: String(o.status) });
  requestDuration.observe(labels, o.seconds);
  if (o.bytesIn > 0) requestBytes.inc(labels, o.bytesIn);
  if (o.bytesOut > 0) responseBytes.inc(labels, o.bytesOut);
}
