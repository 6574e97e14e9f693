// End to end with real processes: node-exporter -> Prometheus (the project's deploy/ rules, every
// group evaluated each second) -> remote write -> APP 3 / APP 2 (`bun runtime/main.ts`,
// FUNCTIONS=remote-write) -> InfluxDB's v2 write API (a real InfluxDB, harness/influxdb.ts), buckets
// "vms" and "containers". The derived series must arrive with the labels and values Prometheus itself
// returns for them, each in its own bucket.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type InfluxDb, startInfluxDb } from "../../harness/influxdb.ts";
import {
  influxRaw,
  type Pipeline,
  prometheusRaw,
  type RawSeries,
  scrapeValue,
  scrapeValueOr,
  seriesKey,
  startPipeline,
} from "../../harness/pipeline.ts";

let influx: InfluxDb;
let pipeline: Pipeline;
let prom: Pipeline["prom"];
let app2: Pipeline["app2"];
let app3: Pipeline["app3"];

beforeAll(async () => {
  influx = await startInfluxDb({ databases: ["vms", "containers"] });
  pipeline = await startPipeline({ influx: { containers: influx, vms: influx }, ruleInterval: "1s" });
  ({ prom, app2, app3 } = pipeline);
}, 90_000);

afterAll(async () => {
  await pipeline?.stop();
  await influx?.stop();
}, 30_000);

function index(series: RawSeries[]): Map<string, RawSeries> {
  return new Map(series.map((s) => [seriesKey(s.labels), s]));
}

const KINDS = {
  vms: { selector: '{__name__=~"job_instance:.+"}', measurements: /^job_instance:/ },
  containers: { selector: '{__name__=~"job_container:.+"}', measurements: /^job_container:/ },
};

/** Every Prometheus sample of every series of `bucket`'s kind in (at - range, at] is in that bucket. */
async function compare(bucket: keyof typeof KINDS, rangeSeconds: number, atSeconds: number) {
  const { selector, measurements } = KINDS[bucket];
  const want = await prometheusRaw(prom.url, selector, rangeSeconds, atSeconds);
  const got = index(
    await influxRaw(influx, bucket, measurements, (atSeconds - rangeSeconds - 5) * 1000, (atSeconds + 5) * 1000),
  );
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

describe("Prometheus -> remote-write function -> InfluxDB v2 write API", () => {
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
      () => compare("vms", 10, at),
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
    "job_container:* goes through APP 2 into bucket containers only, job_instance:* through APP 3 into vms only",
    async () => {
      const at = Math.floor(Date.now() / 1000) - 2;
      const containers = await eventually(
        () => compare("containers", 10, at),
        (r) => r.missing.length === 0 && r.compared > 0,
        30_000,
      );
      // deploy's container rules, fed by the cAdvisor stand-in (harness/cadvisor-standin.ts).
      expect([...new Set(containers.want.map((s) => s.labels.__name__))].sort()).toEqual([
        "job_container:container_cpu_usage:percent",
        "job_container:container_memory_working_set:bytes",
        "job_container:container_network_receive_bytes:rate5m",
        "job_container:container_network_transmit_bytes:rate5m",
      ]);
      for (const series of containers.want) {
        expect(series.labels.container).toMatch(/^tarsd_remote-write-(containers|vms)\.1\.local$/);
        expect(series.labels.service).toBe(series.labels.container!.replace(/\.1\.local$/, ""));
      }
      expect(containers.missing).toEqual([]);
      expect(containers.different).toEqual([]);

      for (const [bucket, kind] of Object.entries(KINDS)) {
        const names = (await influxRaw(influx, bucket, /.*/, (at - 120) * 1000, (at + 5) * 1000)).map((s) =>
          s.labels.__name__!
        );
        expect(names.length).toBeGreaterThan(0);
        expect({ bucket, others: names.filter((n) => !kind.measurements.test(n)) }).toEqual({ bucket, others: [] });
      }

      // Each app's own counters show which samples it wrote.
      expect(await scrapeValue(app2.runtime.url, "tarsd_remote_write_samples_written_total")).toBeGreaterThan(0);
      expect(await scrapeValue(app3.runtime.url, "tarsd_remote_write_samples_written_total")).toBeGreaterThan(0);
      // Requests are counted by the status answered, none pre-set: a replica that never answered 401 has
      // no {status="401"} series (0). The counter itself must be there, with the 204s it answered.
      expect(await scrapeValue(app2.runtime.url, "tarsd_remote_write_requests_total", { status: "204" }))
        .toBeGreaterThan(0);
      expect(await scrapeValueOr(app2.runtime.url, "tarsd_remote_write_requests_total", { status: "401" }, 0)).toBe(0);
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
