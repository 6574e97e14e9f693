// The function's Prometheus metrics, on the registry the function is built with (the process's default
// one when deployed, which the host serves at /metrics; a fresh one per test). Names are a contract
// with deploy/ (alert and dashboard rules): do not rename.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { DROP_REASONS } from "./convert.ts";
import { SINK_ERROR_KINDS } from "./sinks/sink.ts";
import { spoolUsage } from "./spool/segments.ts";

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
      "Failed sink writes, by kind (rejected, throttled, server_error, config, timeout, network, io, spool_full); " +
        "with the spool, also those it then absorbed.",
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

export type SpoolMetrics = ReturnType<typeof spoolMetrics>;

/**
 * The spool's metrics (sinks/spooled.ts): what it holds, read from its directory at each scrape (every
 * replica sharing the directory reports the same), and what this process spooled and replayed.
 */
export function spoolMetrics(
  registry: Registry,
  spool: { dir: string; maxBytes: number; spooling(): boolean; replaying(): boolean },
) {
  const registers = [registry];
  const usage = () => spoolUsage(spool.dir);
  const maxBytes = new Gauge({
    name: "tarsd_remote_write_spool_max_bytes",
    help: "The spool's bound (REMOTE_WRITE_SPOOL_MAX_BYTES): past it, writes are refused (503) again.",
    registers,
  });
  maxBytes.set(spool.maxBytes);
  return {
    maxBytes,
    bytes: new Gauge({
      name: "tarsd_remote_write_spool_bytes",
      help: "Bytes held in the spool, waiting to be replayed into the sink.",
      registers,
      async collect() {
        this.set((await usage()).bytes);
      },
    }),
    oldestAge: new Gauge({
      name: "tarsd_remote_write_spool_oldest_age_seconds",
      help: "Age of the oldest data in the spool (0 when it is empty): how far behind the sink is.",
      registers,
      async collect() {
        const { oldestMs } = await usage();
        this.set(oldestMs === undefined ? 0 : Math.max(0, (Date.now() - oldestMs) / 1000));
      },
    }),
    spooling: new Gauge({
      name: "tarsd_remote_write_spooling",
      help: "1 while this replica acknowledges writes from the spool because the sink is unavailable.",
      registers,
      collect() {
        this.set(spool.spooling() ? 1 : 0);
      },
    }),
    replayer: new Gauge({
      name: "tarsd_remote_write_spool_replayer",
      help: "1 when this replica is the spool's replayer (one per spool directory).",
      registers,
      collect() {
        this.set(spool.replaying() ? 1 : 0);
      },
    }),
    spooledRequestsTotal: new Counter({
      name: "tarsd_remote_write_spooled_requests_total",
      help: "Remote-write requests acknowledged once fsynced to the spool.",
      registers,
    }),
    spooledBytesTotal: new Counter({
      name: "tarsd_remote_write_spooled_bytes_total",
      help: "Line-protocol bytes appended to the spool.",
      registers,
    }),
    replayedBytesTotal: new Counter({
      name: "tarsd_remote_write_spool_replayed_bytes_total",
      help: "Line-protocol bytes replayed from the spool into the sink (rate: the replay rate).",
      registers,
    }),
    replayRejectedTotal: new Counter({
      name: "tarsd_remote_write_spool_replay_rejected_total",
      help: "Replayed batches the sink refused as bad data (it keeps their valid points).",
      registers,
    }),
  };
}
