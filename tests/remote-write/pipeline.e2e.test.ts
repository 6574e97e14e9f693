// End to end with real processes: node-exporter -> Prometheus (the project's deploy/ rules, every
// group evaluated each second) -> remote write -> APP 3 / APP 2 (`bun runtime/main.ts`,
// FUNCTIONS=remote-write) -> VictoriaMetrics' InfluxDB v2 API. The derived series must arrive with
// the labels and values Prometheus itself returns for them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type Child } from "../../harness/child-process.ts";
import {
  hostPort,
  prometheusRaw,
  type RawSeries,
  type RemoteWriteApp,
  ruleFiles,
  scrapeValue,
  seriesKey,
  startNodeExporter,
  startPrometheus,
  startRemoteWriteApp,
  startVictoriaMetrics,
  victoriaRaw,
  withRuleInterval,
} from "../../harness/pipeline.ts";
import { tempDir } from "../../harness/runtime-process.ts";

let vm: Child & { dataDir: string };
let node: Child;
let prom: Child;
let app2: RemoteWriteApp;
let app3: RemoteWriteApp;

beforeAll(async () => {
  vm = await startVictoriaMetrics();
  app3 = await startRemoteWriteApp(vm.url, "vms", "vms-token");
  app2 = await startRemoteWriteApp(vm.url, "containers", "containers-token");
  node = await startNodeExporter();
  prom = await startPrometheus({
    nodeExporters: [hostPort(node.url)],
    functions: [hostPort(app2.runtime.url), hostPort(app3.runtime.url)],
    rules: withRuleInterval(ruleFiles(), "1s", join(tempDir(), "rules")),
    remoteWrites: [
      { name: "app2-containers", url: app2.writeUrl, token: app2.token, keep: "job_container:.+" },
      { name: "app3-vms", url: app3.writeUrl, token: app3.token, keep: "job_instance:.+" },
    ],
  });
}, 90_000);

afterAll(async () => {
  await prom?.stop();
  await Promise.all([node?.stop(), app2?.runtime.stop(), app3?.runtime.stop()]);
  await vm?.stop();
}, 30_000);

function index(series: RawSeries[]): Map<string, RawSeries> {
  return new Map(series.map((s) => [seriesKey(s.labels), s]));
}

/** Every Prometheus sample of every series matching `selector` in (at - range, at] is in VictoriaMetrics. */
async function compare(selector: string, rangeSeconds: number, atSeconds: number) {
  const want = await prometheusRaw(prom.url, selector, rangeSeconds, atSeconds);
  const got = index(await victoriaRaw(vm.url, selector, (atSeconds - rangeSeconds - 5) * 1000, (atSeconds + 5) * 1000));
  const missing: string[] = [];
  const different: string[] = [];
  let compared = 0;
  for (const series of want) {
    const stored = got.get(seriesKey(series.labels));
    const byTime = new Map(stored?.samples ?? []);
    for (const [t, v] of series.samples) {
      compared++;
      const w = byTime.get(t);
      if (w === undefined) missing.push(`${seriesKey(series.labels)}@${t}`);
      else if (Math.abs(w - v) > 1e-12 * Math.max(1, Math.abs(v))) {
        different.push(`${seriesKey(series.labels)}@${t}: prometheus ${v}, sink ${w}`);
      }
    }
  }
  return { want, compared, missing, different };
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await fn();
  while (!ok(last) && Date.now() < deadline) {
    await Bun.sleep(1000);
    last = await fn();
  }
  return last;
}

describe("Prometheus -> remote-write function -> InfluxDB v2 API (VictoriaMetrics)", () => {
  test("VM recording rules (job_instance:*) arrive with Prometheus' labels and values", async () => {
    // Wait for rate() windows to fill so every rule has produced samples.
    // Wait until every rule has a full comparison window of evaluations behind it.
    await eventually(
      () => prometheusRaw(prom.url, '{__name__=~"job_instance:.+"}', 10, Date.now() / 1000 - 2),
      (s) => s.length >= 5 && s.every((x) => x.samples.length >= 8),
      60_000,
    );
    const at = Date.now() / 1000 - 2;
    const result = await eventually(
      () => compare('{__name__=~"job_instance:.+"}', 10, at),
      (r) => r.missing.length === 0 && r.compared > 0,
      30_000,
    );
    const names = new Set(result.want.map((s) => s.labels.__name__));
    expect([...names].sort()).toEqual([
      "job_instance:node_cpu_usage:percent",
      "job_instance:node_memory_used:bytes",
      "job_instance:node_memory_used:ratio",
      "job_instance:node_network_receive_bytes:rate5m",
      "job_instance:node_network_transmit_bytes:rate5m",
    ]);
    for (const s of result.want) expect(Object.keys(s.labels).sort()).toEqual(["__name__", "instance", "job"]);
    expect(result.compared).toBeGreaterThanOrEqual(5 * 7);
    expect(result.missing).toEqual([]);
    expect(result.different).toEqual([]);
    console.log(`e2e: ${result.compared} samples of ${result.want.length} job_instance:* series compared, all equal`);
  }, 90_000);

  test(
    "job_container:* goes through APP 2 only, job_instance:* through APP 3 only, nothing else reaches the sink",
    async () => {
      const at = Math.floor(Date.now() / 1000) - 2;
      const containers = await eventually(
        () => compare('{__name__=~"job_container:.+"}', 10, at),
        (r) => r.missing.length === 0 && r.compared > 0,
        30_000,
      );
      expect(containers.want.map((s) => s.labels.__name__)).toContain("job_container:up:sum");
      expect(containers.missing).toEqual([]);
      expect(containers.different).toEqual([]);

      const names = (await victoriaRaw(vm.url, '{__name__=~".+"}', (at - 120) * 1000, (at + 5) * 1000)).map((s) =>
        s.labels.__name__!
      );
      expect(names.length).toBeGreaterThan(0);
      expect(names.filter((n) => !/^job_(instance|container):/.test(n))).toEqual([]);

      // Each app's own counters show which samples it wrote.
      expect(await scrapeValue(app2.runtime.url, "tarsd_remote_write_samples_written_total")).toBeGreaterThan(0);
      expect(await scrapeValue(app3.runtime.url, "tarsd_remote_write_samples_written_total")).toBeGreaterThan(0);
      expect(await scrapeValue(app2.runtime.url, "tarsd_remote_write_requests_total", { status: "401" })).toBe(0);
      expect(await scrapeValue(prom.url, "prometheus_remote_storage_samples_failed_total")).toBe(0);
      expect(await scrapeValue(prom.url, "prometheus_remote_storage_samples_total")).toBeGreaterThan(0);
    },
    60_000,
  );

  test("a request with the wrong token is refused (401) and counted", async () => {
    const res = await fetch(app3.writeUrl, {
      method: "POST",
      headers: { authorization: "Bearer wrong", "content-type": "application/x-protobuf" },
      body: new Uint8Array([0]),
    });
    expect(res.status).toBe(401);
    expect(await scrapeValue(app3.runtime.url, "tarsd_remote_write_requests_total", { status: "401" }))
      .toBeGreaterThanOrEqual(1);
  });
});
