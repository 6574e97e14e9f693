// Starts the monitoring pipeline's real processes on 127.0.0.1, each on the port the kernel gives it:
// node-exporter, runtime replicas running remote-write (APP 2, APP 3) into a real InfluxDB
// (harness/influxdb.ts), and Prometheus with the project's rule files. Shared by `bun run stack`
// (tools/stack.ts), the end-to-end tests (tests/remote-write/*.e2e.test.ts, tests/deploy/dashboards)
// and bench/ (VictoriaMetrics, the benchmarks' peer), so all run exactly the same setup.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, requireBinary } from "./binaries.ts";
import { type Child, spawnChild } from "./child-process.ts";
import { type CadvisorStandIn, startCadvisorStandIn } from "./cadvisor-standin.ts";
import type { InfluxDb } from "./influxdb.ts";
import { type RuntimeProcess, startRuntime, tempDir } from "./runtime-process.ts";
// deno-lint-ignore no-sloppy-imports -- plain JS, typed by web/prom.d.ts
import { parseMetrics, select } from "../web/prom.js";

/** `http://127.0.0.1:9100` -> `127.0.0.1:9100`: how Prometheus' static targets are written. */
export const hostPort = (url: string) => url.replace("http://", "");

/**
 * node-exporter on a port the kernel gives it, or on `port`: the one an exporter stopped before held,
 * so that Prometheus finds it again at the same target (tests/monitoring/alerting.e2e.test.ts).
 */
export function startNodeExporter(options: { port?: number } = {}): Promise<Child> {
  const bin = requireBinary("prometheus-node-exporter");
  return spawnChild("node-exporter", [bin, `--web.listen-address=127.0.0.1:${options.port ?? 0}`], "/metrics", {
    port: options.port,
  });
}

/**
 * VictoriaMetrics, the benchmarks' fast peer (it speaks InfluxDB's write API too). `-influxSkipSingleField`
 * makes the metric name the measurement alone (not `<measurement>_value`), as the function stores it.
 */
export async function startVictoriaMetrics(): Promise<Child & { dataDir: string }> {
  const bin = requireBinary("victoria-metrics");
  const dataDir = tempDir("tarsd-vm-");
  const child = await spawnChild(
    "victoria-metrics",
    [
      bin,
      `-storageDataPath=${dataDir}`,
      "-httpListenAddr=127.0.0.1:0",
      "-influxSkipSingleField",
      "-search.latencyOffset=0s",
      "-retentionPeriod=100y",
      "-loggerLevel=ERROR",
    ],
    "/health",
  );
  return { ...child, dataDir };
}

/** deploy's rule files, as the stack's Prometheus loads them. */
export function ruleFiles(): string[] {
  const dir = join(REPO_ROOT, "deploy", "prometheus", "rules");
  const deploy = existsSync(dir)
    ? readdirSync(dir).filter((f) => f.endsWith(".rules.yml")).sort().map((f) => join(dir, f))
    : [];
  if (deploy.length === 0) throw new Error(`no rule files in ${dir}: the pipeline runs the project's own rules`);
  return deploy;
}

/**
 * Copies rule files with every group's `interval:` replaced (deploy evaluates every 15 s; tests want
 * many evaluations in a few seconds). Expressions and names stay byte-for-byte the project's.
 */
export function withRuleInterval(files: string[], interval: string, dir: string): string[] {
  return withRuleTimings(files, { interval }, dir);
}

/**
 * Copies rule files with their timings replaced, and nothing else: `interval` every group's
 * `interval:` (as withRuleInterval), `alertFor` every alerting rule's `for:` (deploy lets an alert be
 * pending for minutes before it fires, NodeDown 2m; a test wants it firing within seconds of its
 * cause). Expressions, names, labels and annotations stay byte-for-byte the project's (an annotation
 * that says "for 2 minutes" still says so).
 */
export function withRuleTimings(
  files: string[],
  timings: { interval?: string; alertFor?: string },
  dir: string,
): string[] {
  mkdirSync(dir, { recursive: true });
  return files.map((file, i) => {
    let text = readFileSync(file, "utf8");
    if (timings.interval) text = text.replace(/^(\s*)interval:\s*\S+\s*$/gm, `$1interval: ${timings.interval}`);
    if (timings.alertFor) text = text.replace(/^(\s*)for:\s*\S+\s*$/gm, `$1for: ${timings.alertFor}`);
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
  /** cAdvisor targets (here: harness/cadvisor-standin.ts). */
  cadvisors?: string[];
  /** Function replicas by swarm service name (the `service` label swarm's discovery gives them). */
  functions: Record<string, string[]>;
  remoteWrites: RemoteWriteTarget[];
  rules: string[];
  /** Scrape and (default) evaluation interval. */
  interval?: string;
  dataDir?: string;
  /** Alertmanagers (host:port) to send alerts to, as deploy's prometheus.yml `alerting:` does; none: no `alerting:`. */
  alertmanagers?: string[];
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
    ...(o.cadvisors?.length
      ? ["  - job_name: cadvisor", `    static_configs: [{ targets: ${list(o.cadvisors)} }]`]
      : []),
    "  - job_name: functions",
    "    static_configs:",
    ...Object.entries(o.functions).map(([service, targets]) =>
      `      - { targets: ${list(targets)}, labels: { service: ${JSON.stringify(service)} } }`
    ),
    "  - job_name: prometheus",
    `    static_configs: [{ targets: [${JSON.stringify(o.self)}] }]`,
    ...(o.alertmanagers?.length
      ? ["alerting:", "  alertmanagers:", `    - static_configs: [{ targets: ${list(o.alertmanagers)} }]`]
      : []),
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

/** APP 2 / APP 3: a runtime replica running only the remote-write function, writing to `influx`'s `bucket`. */
export async function startRemoteWriteApp(influx: InfluxDb, bucket: string, token: string): Promise<RemoteWriteApp> {
  const runtime = await startRuntime({
    FUNCTIONS: "remote-write",
    INFLUX_URL: influx.url,
    INFLUX_ORG: "tarsd",
    INFLUX_BUCKET: bucket,
    INFLUX_TOKEN: influx.token ?? "",
    REMOTE_WRITE_TOKEN: token,
    INFLUX_TIMEOUT_MS: "5000",
  });
  return { runtime, token, writeUrl: `${runtime.url}/api/v1/write` };
}

export interface PipelineOptions {
  /** Where APP 2 (bucket "containers") and APP 3 (bucket "vms") write: one server each, or one for both. */
  influx: { containers: InfluxDb; vms: InfluxDb };
  /** Every rule group evaluated this often (tests: "1s"); unset: deploy's own intervals. */
  ruleInterval?: string;
  /** More replicas to scrape and report as containers, by swarm service (APP 1 in `bun run stack`). */
  services?: Record<string, RuntimeProcess[]>;
}

export interface Pipeline {
  app2: RemoteWriteApp;
  app3: RemoteWriteApp;
  node: Child;
  cadvisor: CadvisorStandIn;
  /** The Prometheus running now: after `restartPrometheus`, the new process. */
  prom: Child & { dataDir: string; configFile: string };
  /**
   * Stops Prometheus (SIGTERM: it flushes what its remote-write queues can send, SIGKILL after 10 s) and
   * starts it again with the same data directory and config, the rest of the pipeline left running: its
   * TSDB keeps what it evaluated before; its remote-write queues start afresh, sending only samples
   * newer than the new process' start. Its port may change (then so does its self-scrape target).
   */
  restartPrometheus(): Promise<Child & { dataDir: string; configFile: string }>;
  stop(): Promise<void>;
}

/**
 * The monitoring half of the stack: node-exporter and the cAdvisor stand-in, APP 2 and APP 3, and
 * Prometheus with deploy's rules, scraping them all (function replicas labelled with their swarm
 * service) and remote-writing job_container:* to APP 2 and job_instance:* to APP 3, as deploy/ does.
 */
export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const started: { stop(): Promise<unknown> }[] = [];
  try {
    const app2 = await startRemoteWriteApp(options.influx.containers, "containers", "containers-token");
    started.push(app2.runtime);
    const app3 = await startRemoteWriteApp(options.influx.vms, "vms", "vms-token");
    started.push(app3.runtime);
    const services: Record<string, RuntimeProcess[]> = {
      ...options.services,
      "tarsd_remote-write-containers": [app2.runtime],
      "tarsd_remote-write-vms": [app3.runtime],
    };
    const node = await startNodeExporter();
    started.push(node);
    const cadvisor = startCadvisorStandIn(() =>
      Object.entries(services).flatMap(([service, replicas]) =>
        replicas.map((replica, i) => ({
          name: `${service}.${i + 1}.local`,
          service,
          pid: replica.proc.pid,
          metricsUrl: `${replica.url}/metrics`,
        }))
      )
    );
    started.push(cadvisor);
    const rules = options.ruleInterval
      ? withRuleInterval(ruleFiles(), options.ruleInterval, join(tempDir("tarsd-rules-"), "rules"))
      : ruleFiles();
    const promOptions: PrometheusOptions = {
      nodeExporters: [hostPort(node.url)],
      cadvisors: [hostPort(cadvisor.url)],
      functions: Object.fromEntries(
        Object.entries(services).map(([service, replicas]) => [service, replicas.map((r) => hostPort(r.url))]),
      ),
      rules,
      remoteWrites: [
        { name: "app2-containers", url: app2.writeUrl, token: app2.token, keep: "job_container:.+" },
        { name: "app3-vms", url: app3.writeUrl, token: app3.token, keep: "job_instance:.+" },
      ],
    };
    let prom = await startPrometheus(promOptions);
    // Stopped through the pipeline as whichever process runs now (a restart replaces it).
    started.push({ stop: () => prom.stop() });
    const pipeline: Pipeline = {
      app2,
      app3,
      node,
      cadvisor,
      prom,
      async restartPrometheus() {
        await prom.stop();
        prom = await startPrometheus({ ...promOptions, dataDir: prom.dataDir });
        pipeline.prom = prom;
        return prom;
      },
      async stop() {
        for (const child of started.reverse()) await child.stop().catch(() => undefined);
      },
    };
    return pipeline;
  } catch (err) {
    for (const child of started.reverse()) await child.stop().catch(() => undefined);
    throw err;
  }
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

/**
 * InfluxDB's raw samples of the measurements matching `measurements` (a regex) in one database, exact
 * timestamps, as Prometheus-style series: the measurement is `__name__`, the tags are the labels.
 */
export async function influxRaw(
  influx: InfluxDb,
  database: string,
  measurements: RegExp,
  startMs: number,
  endMs: number,
): Promise<RawSeries[]> {
  const series = await influx.influxql(
    database,
    `SELECT "value" FROM ${measurements} WHERE time >= ${Math.floor(startMs)}ms AND time <= ${
      Math.ceil(endMs)
    }ms GROUP BY *`,
  );
  return series.map((s) => ({
    labels: { __name__: s.name, ...s.tags },
    samples: s.values.map(([t, v]) => [t as number, v as number] as [number, number]),
  }));
}

export function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Sums the samples of one metric on `url`'s /metrics page whose labels include `labels` (web/prom.js
 * parses). No such sample is an error naming the metric, the labels and what the page has of that name:
 * a renamed metric or label must fail a check, not read as 0. Where a series is legitimately absent
 * (a counter label value nothing has counted yet), the call site says so with `scrapeValueOr`.
 */
export async function scrapeValue(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const found = await scrapeSamples(url, name, labels);
  if (found.matching.length === 0) {
    const labelText = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",");
    const near = found.sameName.slice(0, 10).map((s) => JSON.stringify(s.labels)).join(", ");
    throw new Error(
      `${url}/metrics has no ${name}{${labelText}}: ` +
        (found.sameName.length > 0
          ? `${found.sameName.length} ${name} series with other labels (${near})`
          : `no ${name} series at all`),
    );
  }
  return sum(found.matching);
}

/**
 * `scrapeValue`, with `fallback` when no sample matches: only for a series whose absence is a
 * documented state (e.g. `tarsd_remote_write_requests_total{status="503"}` before the first 503:
 * requests are counted by the statuses answered, none is pre-set). The caller says why in a comment.
 */
export async function scrapeValueOr(
  url: string,
  name: string,
  labels: Record<string, string>,
  fallback: number,
): Promise<number> {
  const found = await scrapeSamples(url, name, labels);
  return found.matching.length === 0 ? fallback : sum(found.matching);
}

async function scrapeSamples(url: string, name: string, labels: Record<string, string>) {
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) throw new Error(`${url}/metrics answered ${res.status}`);
  const sameName = select(parseMetrics(await res.text()), name);
  return { sameName, matching: select(sameName, name, labels) };
}

const sum = (samples: { value: number }[]) => samples.reduce((total, sample) => total + sample.value, 0);
