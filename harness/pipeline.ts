// Starts the monitoring pipeline's real processes on 127.0.0.1 free ports: node-exporter,
// VictoriaMetrics (standing in for InfluxDB 2: it speaks /api/v2/write), runtime replicas and
// Prometheus with the project's rule files. Shared by `bun run stack` (tools/stack.ts), the
// end-to-end tests (tests/remote-write/*.e2e.test.ts) and bench/, so all run exactly the same setup.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, requireBinary } from "./binaries.ts";
import { type Child, spawnChild } from "./child-process.ts";
import { type RuntimeProcess, startRuntime, tempDir } from "./runtime-process.ts";
// deno-lint-ignore no-sloppy-imports -- plain JS, typed by web/prom.d.ts
import { parseMetrics, select } from "../web/prom.js";

/** `http://127.0.0.1:9100` -> `127.0.0.1:9100`: how Prometheus' static targets are written. */
export const hostPort = (url: string) => url.replace("http://", "");

export function startNodeExporter(): Promise<Child> {
  const bin = requireBinary("prometheus-node-exporter");
  return spawnChild("node-exporter", [bin, "--web.listen-address=127.0.0.1:0"], "/metrics");
}

export interface VictoriaMetricsOptions {
  dataDir?: string;
  /** Reuse a port (restart after a simulated outage). */
  port?: number;
}

/**
 * VictoriaMetrics as the InfluxDB 2 stand-in. `-influxSkipSingleField` makes the metric name the
 * measurement alone (not `<measurement>_value`), so the stored series are named and labelled
 * exactly like Prometheus' own: what the end-to-end comparison needs.
 */
export async function startVictoriaMetrics(options: VictoriaMetricsOptions = {}): Promise<Child & { dataDir: string }> {
  const bin = requireBinary("victoria-metrics");
  const dataDir = options.dataDir ?? tempDir("tarsd-vm-");
  const child = await spawnChild(
    "victoria-metrics",
    [
      bin,
      `-storageDataPath=${dataDir}`,
      `-httpListenAddr=127.0.0.1:${options.port ?? 0}`,
      "-influxSkipSingleField",
      "-search.latencyOffset=0s",
      "-retentionPeriod=100y",
      "-loggerLevel=ERROR",
    ],
    "/health",
    { port: options.port },
  );
  return { ...child, dataDir };
}

/** The deploy engineer's rule files, plus the cAdvisor stand-in fixture (see its header). */
export function ruleFiles(): string[] {
  const dir = join(REPO_ROOT, "deploy", "prometheus", "rules");
  const deploy = existsSync(dir)
    ? readdirSync(dir).filter((f) => f.endsWith(".rules.yml")).sort().map((f) => join(dir, f))
    : [];
  if (deploy.length === 0) throw new Error(`no rule files in ${dir}: the pipeline runs the project's own rules`);
  return [...deploy, join(REPO_ROOT, "tests", "fixtures", "remote-write", "containers-standin.rules.yml")];
}

/**
 * Copies rule files with every group's `interval:` replaced (deploy evaluates every 15 s; tests want
 * many evaluations in a few seconds). Expressions and names stay byte-for-byte the project's.
 */
export function withRuleInterval(files: string[], interval: string, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return files.map((file, i) => {
    const text = readFileSync(file, "utf8").replace(/^(\s*)interval:\s*\S+\s*$/gm, `$1interval: ${interval}`);
    const copy = join(dir, `${i}-${file.split("/").pop()}`);
    writeFileSync(copy, text);
    return copy;
  });
}

export interface RemoteWriteTarget {
  name: string;
  url: string;
  token?: string;
  /** Regex of metric names this remote keeps (write_relabel_configs keep on __name__). */
  keep: string;
}

export interface PrometheusOptions {
  nodeExporters: string[];
  functions: string[];
  remoteWrites: RemoteWriteTarget[];
  rules: string[];
  /** Scrape and (default) evaluation interval. */
  interval?: string;
  dataDir?: string;
}

export function prometheusConfig(o: PrometheusOptions & { self: string }): string {
  const list = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(", ")}]`;
  const interval = o.interval ?? "1s";
  return [
    "global:",
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    `rule_files: ${list(o.rules)}`,
    "scrape_configs:",
    "  - job_name: node",
    `    static_configs: [{ targets: ${list(o.nodeExporters)} }]`,
    "  - job_name: functions",
    `    static_configs: [{ targets: ${list(o.functions)} }]`,
    "  - job_name: prometheus",
    `    static_configs: [{ targets: [${JSON.stringify(o.self)}] }]`,
    "remote_write:",
    ...o.remoteWrites.flatMap((rw) => [
      `  - name: ${rw.name}`,
      `    url: ${rw.url}`,
      "    remote_timeout: 10s",
      ...(rw.token
        ? ["    authorization:", "      type: Bearer", `      credentials: ${JSON.stringify(rw.token)}`]
        : []),
      // Small deadlines and backoffs so a fault's backlog is delivered within seconds of recovery.
      "    queue_config: { batch_send_deadline: 1s, min_backoff: 250ms, max_backoff: 2s, max_samples_per_send: 2000 }",
      "    write_relabel_configs:",
      `      - { source_labels: [__name__], regex: ${JSON.stringify(rw.keep)}, action: keep }`,
    ]),
    "",
  ].join("\n");
}

export async function startPrometheus(
  options: PrometheusOptions,
): Promise<Child & { dataDir: string; configFile: string }> {
  const bin = requireBinary("prometheus");
  const dataDir = options.dataDir ?? tempDir("tarsd-prom-");
  const configFile = join(dataDir, "prometheus.yml");
  // Prometheus scrapes itself at the port it gets: known once it listens, then the config is
  // rewritten and reloaded (SIGHUP), and it is ready when it serves the new config.
  writeFileSync(configFile, prometheusConfig({ ...options, self: "127.0.0.1:9" }));
  const child = await spawnChild(
    "prometheus",
    [
      bin,
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dataDir, "tsdb")}`,
      "--web.listen-address=127.0.0.1:0",
      "--log.level=warn",
    ],
    "/-/ready",
  );
  const self = hostPort(child.url);
  writeFileSync(configFile, prometheusConfig({ ...options, self }));
  child.proc.kill("SIGHUP");
  const deadline = Date.now() + 20_000;
  while (!(await (await fetch(`${child.url}/api/v1/status/config`)).text()).includes(self)) {
    if (Date.now() > deadline) {
      await child.stop();
      throw new Error(`prometheus did not reload its config with itself as ${self}:\n${child.logs().slice(-4000)}`);
    }
    await Bun.sleep(20);
  }
  return { ...child, dataDir, configFile };
}

export interface RemoteWriteApp {
  runtime: RuntimeProcess;
  token: string;
  writeUrl: string;
}

/** APP 2 / APP 3: a runtime replica running only the remote-write function, writing to `influxUrl`. */
export async function startRemoteWriteApp(influxUrl: string, bucket: string, token: string): Promise<RemoteWriteApp> {
  const runtime = await startRuntime({
    FUNCTIONS: "remote-write",
    INFLUX_URL: influxUrl,
    INFLUX_ORG: "tarsd",
    INFLUX_BUCKET: bucket,
    INFLUX_TOKEN: "unused-by-victoria-metrics",
    REMOTE_WRITE_TOKEN: token,
    INFLUX_TIMEOUT_MS: "5000",
  });
  return { runtime, token, writeUrl: `${runtime.url}/api/v1/write` };
}

// ---- queries -------------------------------------------------------------------------------

export interface RawSeries {
  labels: Record<string, string>;
  /** [timestamp ms, value] */
  samples: [number, number][];
}

/** Prometheus' raw samples (a range-vector selector evaluated at `atSeconds`), exact timestamps. */
export async function prometheusRaw(
  url: string,
  selector: string,
  rangeSeconds: number,
  atSeconds: number,
): Promise<RawSeries[]> {
  const params = new URLSearchParams({ query: `${selector}[${Math.ceil(rangeSeconds)}s]`, time: String(atSeconds) });
  const res = await fetch(`${url}/api/v1/query?${params}`);
  const body = (await res.json()) as {
    status: string;
    data: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] };
  };
  if (body.status !== "success") throw new Error(`prometheus query failed: ${JSON.stringify(body)}`);
  return body.data.result.map((r) => ({
    labels: r.metric,
    samples: r.values.map(([t, v]) => [Math.round(t * 1000), Number(v)] as [number, number]),
  }));
}

/** VictoriaMetrics' raw samples (/api/v1/export), exact timestamps. */
export async function victoriaRaw(url: string, match: string, startMs: number, endMs: number): Promise<RawSeries[]> {
  const params = new URLSearchParams({ "match[]": match, start: String(startMs / 1000), end: String(endMs / 1000) });
  const res = await fetch(`${url}/api/v1/export?${params}`);
  if (!res.ok) throw new Error(`victoria-metrics export failed: ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const row = JSON.parse(line) as { metric: Record<string, string>; values: number[]; timestamps: number[] };
      return { labels: row.metric, samples: row.timestamps.map((t, i) => [t, row.values[i]!] as [number, number]) };
    });
}

export function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Sums the samples of one metric on a /metrics page whose labels include `labels` (web/prom.js parses). */
export async function scrapeValue(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const samples = parseMetrics(await (await fetch(`${url}/metrics`)).text());
  return select(samples, name, labels).reduce((sum, sample) => sum + sample.value, 0);
}
