// The function's Prometheus metrics, on prom-client's default register (served by the runtime's
// /metrics). Names are a contract with deploy/ (alert and dashboard rules): do not rename.
import { Counter, Histogram, type Metric, register } from "prom-client";
import { DROP_REASONS } from "./convert.ts";
import { SINK_ERROR_KINDS } from "./sinks/sink.ts";

// A module can be evaluated more than once in one process (tests, several function instances);
// registering the same name twice throws, so reuse what is registered.
function once<T extends Metric>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}

function counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return once(name, () => new Counter<L>({ name, help, labelNames }));
}

export const requestsTotal = counter(
  "tarsd_remote_write_requests_total",
  "Remote-write requests answered, by HTTP status code.",
  ["status"] as const,
);

export const samplesReceivedTotal = counter(
  "tarsd_remote_write_samples_received_total",
  "Float samples decoded from remote-write requests.",
);

export const samplesWrittenTotal = counter(
  "tarsd_remote_write_samples_written_total",
  "Samples the sink (InfluxDB or the local file) acknowledged.",
);

export const histogramsWrittenTotal = counter(
  "tarsd_remote_write_histograms_written_total",
  "Native histogram samples the sink acknowledged.",
);

export const exemplarsWrittenTotal = counter(
  "tarsd_remote_write_exemplars_written_total",
  "Exemplars the sink acknowledged.",
);

export const samplesDroppedTotal = counter(
  "tarsd_remote_write_samples_dropped_total",
  "Samples and histograms not written, by reason (stale, nan, inf, duplicate_label, missing_metric_name, ...).",
  ["reason"] as const,
);

export const requestBytesTotal = counter(
  "tarsd_remote_write_request_bytes_total",
  "Compressed remote-write request body bytes read.",
);

export const influxWriteDuration = once("tarsd_influx_write_duration_seconds", () =>
  new Histogram({
    name: "tarsd_influx_write_duration_seconds",
    help: "Duration of one awaited sink write (one per remote-write request), successful or not.",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }));

export const influxWriteErrorsTotal = counter(
  "tarsd_influx_write_errors_total",
  "Failed sink writes, by kind (rejected, throttled, server_error, config, timeout, network, io).",
  ["kind"] as const,
);

// Every known label value starts at 0, so a healthy replica reports "0 errors" and "0 dropped" rather
// than no series at all: rate() over them is 0 (a dashboard line at zero, not "No data"), and an
// alert on increase() fires at the first error instead of missing it because the series is new.
for (const kind of SINK_ERROR_KINDS) influxWriteErrorsTotal.inc({ kind }, 0);
for (const reason of DROP_REASONS) samplesDroppedTotal.inc({ reason }, 0);
