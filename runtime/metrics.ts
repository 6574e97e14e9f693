// The host's Prometheus metrics, on the registry it is given (the process's default one in main.ts,
// which the functions' own metrics join). Label values are route templates, never raw paths, to bound
// cardinality.
import client from "prom-client";

/** The labels of every per-route series: route templates, never raw paths, to bound cardinality. */
export interface RouteLabels {
  function: string;
  method: string;
  route: string;
}

const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * One mounted route's request metrics, counted in plain numbers on the request path and turned into
 * series only when /metrics is scraped: prom-client validates and hashes the label set on every
 * `inc`/`observe` (bench/NOTES.md); here a request costs a few additions.
 */
export class RouteMetrics {
  private readonly byStatus = new Map<number, number>();
  /** Observations per duration bucket (not cumulative), the last one for +Inf. */
  private readonly perBucket = new Float64Array(DURATION_BUCKETS.length + 1);
  private count = 0;
  private seconds = 0;
  private bytesIn = 0;
  private bytesOut = 0;

  constructor(readonly labels: RouteLabels) {}

  observe(status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket++;
    this.perBucket[bucket]!++;
    this.count++;
    this.seconds += seconds;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
  }

  /** Requests by status, as prom-client's counter takes them (labels and a value). */
  statusCounts(): { labels: Record<string, string>; value: number }[] {
    return [...this.byStatus].map(([status, value]) => ({ labels: { ...this.labels, status: String(status) }, value }));
  }

  byteCounts(): { in: number; out: number } {
    return { in: this.bytesIn, out: this.bytesOut };
  }

  /** The duration histogram's series (cumulative buckets, sum, count) as a registry prints them. */
  durationSeries(name: string): { labels: Record<string, string | number>; value: number; metricName: string }[] {
    if (this.count === 0) return [];
    let cumulative = 0;
    const buckets = DURATION_BUCKETS.map((le, i) => {
      cumulative += this.perBucket[i]!;
      return { labels: { le, ...this.labels }, value: cumulative, metricName: `${name}_bucket` };
    });
    return [
      ...buckets,
      { labels: { le: "+Inf", ...this.labels }, value: this.count, metricName: `${name}_bucket` },
      { labels: { ...this.labels }, value: this.seconds, metricName: `${name}_sum` },
      { labels: { ...this.labels }, value: this.count, metricName: `${name}_count` },
    ];
  }
}

// The counters are prom-client's own, filled from the routes' numbers when scraped (reset, then
// added: a counter has no setter); only routes that saw bytes get a bytes series.
const routeLabelNames = ["function", "method", "route"] as const;
const DURATION_NAME = "tarsd_function_request_duration_seconds";

export class HostMetrics {
  private readonly routes: RouteMetrics[] = [];
  readonly functionInfo: client.Gauge<"function" | "sha256">;
  readonly ready: client.Gauge;

  constructor(readonly registry: client.Registry) {
    const routes = this.routes;
    const registers = [registry];
    new client.Counter({
      name: "tarsd_function_requests_total",
      help: "Requests handled, by function, method, route template and status code.",
      labelNames: [...routeLabelNames, "status"],
      registers,
      collect() {
        this.reset();
        for (const route of routes) for (const { labels, value } of route.statusCounts()) this.inc(labels, value);
      },
    });
    const bytesCounter = (name: string, help: string, way: "in" | "out") =>
      new client.Counter({
        name,
        help,
        labelNames: routeLabelNames,
        registers,
        collect() {
          this.reset();
          for (const route of routes) {
            const bytes = route.byteCounts()[way];
            if (bytes > 0) this.inc(route.labels, bytes);
          }
        },
      });
    bytesCounter(
      "tarsd_function_request_bytes_total",
      "Request body bytes received (Content-Length when given).",
      "in",
    );
    bytesCounter("tarsd_function_response_bytes_total", "Response body bytes sent (Content-Length when given).", "out");
    // The histogram is given to the registry as a metric of its own making: prom-client's Histogram
    // can only be fed one observation at a time. The registry asks a metric for its name, help, type,
    // aggregator (cluster mode) and `get()`.
    const help = "Time from request to response headers; includes reading the whole upload body.";
    registry.registerMetric({
      name: DURATION_NAME,
      help,
      type: "histogram",
      aggregator: "sum",
      get: () =>
        Promise.resolve({
          name: DURATION_NAME,
          help,
          type: "histogram",
          aggregator: "sum",
          values: routes.flatMap((route) => route.durationSeries(DURATION_NAME)),
        }),
    } as unknown as client.Metric);
    this.functionInfo = new client.Gauge({
      name: "tarsd_function_info",
      help: "1 for each function file this process loaded, labelled with the sha256 of its content.",
      labelNames: ["function", "sha256"],
      registers,
    });
    this.ready = new client.Gauge({
      name: "tarsd_ready",
      help: "1 while the process takes traffic, 0 once it is draining for shutdown.",
      registers,
    });
  }

  /** The metrics of one mounted route, counted from now on. */
  route(labels: RouteLabels): RouteMetrics {
    const route = new RouteMetrics(labels);
    this.routes.push(route);
    return route;
  }
}
