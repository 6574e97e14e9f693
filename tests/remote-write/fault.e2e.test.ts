// Fault: the sink (a real InfluxDB, harness/influxdb.ts) is stopped for 30 s while Prometheus keeps
// evaluating the project's VM rules and remote-writing them through APP 3. The function must answer
// 503 meanwhile (so Prometheus keeps the samples and retries); after the same server is back (same
// data, same port) and Prometheus has caught up, every sample Prometheus evaluated in the window is in
// the sink.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type InfluxDb, startInfluxDb } from "../../harness/influxdb.ts";
import {
  influxRaw,
  type Pipeline,
  prometheusRaw,
  scrapeValue,
  scrapeValueOr,
  seriesKey,
  startPipeline,
} from "../../harness/pipeline.ts";

const OUTAGE_MS = 30_000;
const SELECTOR = '{__name__=~"job_instance:.+"}';
const MEASUREMENTS = /^job_instance:/;
let influx: InfluxDb;
let pipeline: Pipeline;
let prom: Pipeline["prom"];
let app3: Pipeline["app3"];

beforeAll(async () => {
  influx = await startInfluxDb({ databases: ["vms", "containers"] });
  pipeline = await startPipeline({ influx: { containers: influx, vms: influx }, ruleInterval: "1s" });
  ({ prom, app3 } = pipeline);
}, 90_000);

afterAll(async () => {
  await pipeline?.stop();
  await influx?.stop();
}, 30_000);

async function missingInSink(fromS: number, toS: number) {
  const want = await prometheusRaw(prom.url, SELECTOR, toS - fromS, toS);
  const got = new Map(
    (await influxRaw(influx, "vms", MEASUREMENTS, (fromS - 5) * 1000, (toS + 5) * 1000)).map((s) => [
      seriesKey(s.labels),
      s,
    ]),
  );
  let evaluated = 0;
  let stored = 0;
  const missing: string[] = [];
  for (const series of want) {
    const inSink = new Map(got.get(seriesKey(series.labels))?.samples ?? []);
    for (const [t, v] of series.samples) {
      evaluated++;
      const w = inSink.get(t);
      if (w !== undefined && Math.abs(w - v) <= 1e-12 * Math.max(1, Math.abs(v))) stored++;
      else missing.push(`${series.labels.__name__}@${t}: prometheus ${v}, sink ${w}`);
    }
  }
  return { series: want.length, evaluated, stored, missing };
}

test("sink down for 30 s: 503s meanwhile, zero samples lost after catch-up", async () => {
  // Healthy first: samples flow.
  const deadline = Date.now() + 60_000;
  while (
    (await influxRaw(influx, "vms", MEASUREMENTS, Date.now() - 60_000, Date.now())).length < 5 && Date.now() < deadline
  ) {
    await Bun.sleep(1000);
  }

  // Requests are counted by the status answered, none pre-set: before the first 503 there is no
  // {status="503"} series at all (it is 0). Absent afterwards is an error (scrapeValue below).
  const r503Before = await scrapeValueOr(app3.runtime.url, "tarsd_remote_write_requests_total", { status: "503" }, 0);
  const outageStart = Date.now() / 1000;
  await influx.stop();
  await Bun.sleep(OUTAGE_MS);
  const r503During = (await scrapeValue(app3.runtime.url, "tarsd_remote_write_requests_total", { status: "503" })) -
    r503Before;
  influx = await startInfluxDb({ databases: ["vms", "containers"], dataDir: influx.dataDir, port: influx.port });
  const outageEnd = Date.now() / 1000;

  // Window: from 2 s before the stop to 2 s after the restart, judged once it is all delivered.
  const from = outageStart - 2;
  const to = outageEnd + 2;
  let result = await missingInSink(from, to);
  const catchUp = Date.now() + 60_000;
  while (result.missing.length > 0 && Date.now() < catchUp) {
    await Bun.sleep(1000);
    result = await missingInSink(from, to);
  }
  console.log(
    `fault: sink down ${Math.round(outageEnd - outageStart)} s; APP 3 answered 503 ${r503During} times; ` +
      `${result.evaluated} samples of ${result.series} series evaluated by Prometheus in the window, ${result.stored} in the sink, ${result.missing.length} missing`,
  );
  expect(r503During).toBeGreaterThan(0); // the outage was real and the function pushed back
  expect(result.series).toBe(5);
  expect(result.evaluated).toBeGreaterThanOrEqual(5 * 25); // ~34 s of 1 s evaluations per rule
  expect(result.missing).toEqual([]);
  expect(result.stored).toBe(result.evaluated);
  expect(await scrapeValue(prom.url, "prometheus_remote_storage_samples_failed_total")).toBe(0);
  expect(await scrapeValue(prom.url, "prometheus_remote_storage_samples_retried_total")).toBeGreaterThan(0);
}, 180_000);
