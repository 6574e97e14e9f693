// Prometheus 3 (3.16, `go install github.com/prometheus/prometheus/cmd/prometheus@v0.316.0` by
// `bash scripts/setup --test` into .tools/bin/prometheus3), the remote-write peer beside Debian's 2.42
// (harness/pipeline.ts): remote write 2.0, native histograms scraped in the protobuf format, exemplars.
// One scrape job and any number of remote-write queues, each with its own protobuf message; its
// config is reloaded through /-/reload, and each queue's own counters are read from /metrics.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireToolsBinary } from "./binaries.ts";
import { type Child, spawnChild } from "./child-process.ts";
import { tempDir } from "./runtime-process.ts";
// deno-lint-ignore no-sloppy-imports -- plain JS, typed by web/prom.d.ts
import { parseMetrics, select } from "../web/prom.js";

export const PROMETHEUS3 = "prometheus3";

/** `protobuf_message` of a remote-write queue: 1.0 or 2.0. */
export type RemoteWriteMessage = "prometheus.WriteRequest" | "io.prometheus.write.v2.Request";

export interface Prometheus3Queue {
  name: string;
  url: string;
  message: RemoteWriteMessage;
  token?: string;
}

export interface Prometheus3Options {
  /** The one scrape job's targets (`http://host:port`, scraped at /metrics). */
  targets: string[];
  remoteWrites: Prometheus3Queue[];
  /** Scrape interval (default 1s). */
  interval?: string;
}

export function prometheus3Config(o: Prometheus3Options): string {
  const interval = o.interval ?? "1s";
  return [
    "global:",
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${interval}`,
    "scrape_configs:",
    "  - job_name: target",
    // Native histograms are exposed only in the protobuf format, so it is asked for first.
    "    scrape_protocols: [PrometheusProto, OpenMetricsText1.0.0, PrometheusText0.0.4]",
    "    scrape_native_histograms: true",
    `    static_configs: [{ targets: ${JSON.stringify(o.targets.map((url) => url.replace("http://", "")))} }]`,
    "remote_write:",
    ...o.remoteWrites.flatMap((rw) => [
      `  - name: ${rw.name}`,
      `    url: ${rw.url}`,
      `    protobuf_message: ${rw.message}`,
      "    send_exemplars: true",
      "    send_native_histograms: true",
      "    remote_timeout: 10s",
      ...(rw.token
        ? ["    authorization:", "      type: Bearer", `      credentials: ${JSON.stringify(rw.token)}`]
        : []),
      "    queue_config: { batch_send_deadline: 1s, min_backoff: 250ms, max_backoff: 2s, max_samples_per_send: 2000 }",
    ]),
    "",
  ].join("\n");
}

export interface Prometheus3 extends Child {
  dataDir: string;
  configFile: string;
  /** Writes `options` as the config and reloads it; resolves once Prometheus serves it. */
  reload(options: Prometheus3Options): Promise<void>;
}

/** Starts .tools/bin/prometheus3 on a port the kernel picks; a missing binary names the set-up command. */
export async function startPrometheus3(options: Prometheus3Options): Promise<Prometheus3> {
  const bin = requireToolsBinary(PROMETHEUS3);
  const dataDir = tempDir("tarsd-prom3-");
  const configFile = join(dataDir, "prometheus.yml");
  writeFileSync(configFile, prometheus3Config(options));
  const child = await spawnChild(
    PROMETHEUS3,
    [
      bin,
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dataDir, "tsdb")}`,
      "--web.listen-address=127.0.0.1:0",
      "--web.enable-lifecycle",
      // Exemplars are kept (and so remote-written) only with the exemplar storage on.
      "--enable-feature=exemplar-storage",
      "--log.level=warn",
    ],
    "/-/ready",
  );
  return {
    ...child,
    dataDir,
    configFile,
    async reload(next) {
      const text = prometheus3Config(next);
      writeFileSync(configFile, text);
      const res = await fetch(`${child.url}/-/reload`, { method: "POST" });
      if (!res.ok) throw new Error(`prometheus3 refused its config: ${res.status} ${await res.text()}`);
    },
  };
}

/** One remote-write queue's counters as Prometheus reports them (prometheus_remote_storage_*). */
export interface QueueCounts {
  samples: number;
  histograms: number;
  exemplars: number;
  samplesFailed: number;
  histogramsFailed: number;
  exemplarsFailed: number;
  samplesRetried: number;
  histogramsRetried: number;
  exemplarsRetried: number;
  samplesDropped: number;
  histogramsDropped: number;
  exemplarsDropped: number;
  pendingSamples: number;
  pendingHistograms: number;
  pendingExemplars: number;
  /** Bytes sent (compressed request bodies). */
  bytes: number;
}

/** The counters of the queue named `remoteName`, read from Prometheus' /metrics. */
export async function queueCounts(promUrl: string, remoteName: string): Promise<QueueCounts> {
  const samples = parseMetrics(await (await fetch(`${promUrl}/metrics`)).text());
  const value = (name: string) => {
    const found = select(samples, `prometheus_remote_storage_${name}`, { remote_name: remoteName });
    if (found.length === 0) {
      throw new Error(`prometheus3 reports no prometheus_remote_storage_${name} of ${remoteName}`);
    }
    return found.reduce((sum, s) => sum + s.value, 0);
  };
  // The dropped counters have a reason label and no series until something is dropped.
  const dropped = (name: string) =>
    select(samples, `prometheus_remote_storage_${name}`, { remote_name: remoteName }).reduce((s, x) => s + x.value, 0);
  return {
    samples: value("samples_total"),
    histograms: value("histograms_total"),
    exemplars: value("exemplars_total"),
    samplesFailed: value("samples_failed_total"),
    histogramsFailed: value("histograms_failed_total"),
    exemplarsFailed: value("exemplars_failed_total"),
    samplesRetried: value("samples_retried_total"),
    histogramsRetried: value("histograms_retried_total"),
    exemplarsRetried: value("exemplars_retried_total"),
    samplesDropped: dropped("samples_dropped_total"),
    histogramsDropped: dropped("histograms_dropped_total"),
    exemplarsDropped: dropped("exemplars_dropped_total"),
    pendingSamples: value("samples_pending"),
    pendingHistograms: value("histograms_pending"),
    pendingExemplars: value("exemplars_pending"),
    bytes: value("bytes_total"),
  };
}
