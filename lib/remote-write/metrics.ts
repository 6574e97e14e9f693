// The function's Prometheus metrics, on the registry the function is built with (the process's default
// one when deployed, which the host serves at /metrics; a fresh one per test). Names are a contract
// with deploy/ (alert and dashboard rules): do not rename.
import { Counter, Histogram, type Registry } from "prom-client";
import { DROP_REASONS } from "./convert.ts";
import { SINK_ERROR_KINDS } from "./sinks/sink.ts";

export type RemoteWriteMetrics = ReturnType<typeof remoteWriteMetrics>;

/** Creates the metrics and registers them on `registry` (once per registry: a name registers only once). */
export function remoteWriteMetrics(registry: Registry) {
  const registers = [registry];
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });

  const metrics = {
    requestsTotal: counter(
      "tarsd_remote_write_requests_total",
      "Remote-write requests answered, by HTTP status code.",
      ["status"] as const,
    ),
    samplesReceivedTotal: counter(
      "tarsd_remote_write_samples_received_total",
      "Float samples decoded from remote-write requests.",
    ),
    samplesWrittenTotal: counter(
      "tarsd_remote_write_samples_written_total",
      "Samples the sink (InfluxDB or the local file) acknowledged.",
    ),
    histogramsWrittenTotal: counter(
      "tarsd_remote_write_histograms_written_total",
      "Native histogram samples the sink acknowledged.",
    ),
    exemplarsWrittenTotal: counter(
      "tarsd_remote_write_exemplars_written_total",
      "Exemplars the sink acknowledged.",
    ),
    samplesDroppedTotal: counter(
      "tarsd_remote_write_samples_dropped_total",
      "Samples and histograms not written, by reason (stale, nan, inf, duplicate_label, missing_metric_name, ...).",
      ["reason"] as const,
    ),
    requestBytesTotal: counter(
      "tarsd_remote_write_request_bytes_total",
      "Compressed remote-write request body bytes read.",
    ),
    influxWriteDuration: new Histogram({
      name: "tarsd_influx_write_duration_seconds",
      help: "Duration of one awaited sink write (one per remote-write request), successful or not.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    influxWriteErrorsTotal: counter(
      "tarsd_influx_write_errors_total",
      "Failed sink writes, by kind (rejected, throttled, server_error, config, timeout, network, io).",
      ["kind"] as const,
    ),
  };

  // Every known label value starts at 0, so a healthy replica reports "0 errors" and "0 dropped" rather
  // than no series at all: rate() over them is 0 (a dashboard line at zero, not "No data"), and an
  // alert on increase() fires at the first error instead of missing it because the series is new.
  for (const kind of SINK_ERROR_KINDS) metrics.influxWriteErrorsTotal.inc({ kind }, 0);
  for (const reason of DROP_REASONS) metrics.samplesDroppedTotal.inc({ reason }, 0);
  return metrics;
}
