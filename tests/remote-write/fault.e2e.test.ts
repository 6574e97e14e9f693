// Fault (issue 24): the sink (a real InfluxDB, harness/influxdb.ts) is stopped for 40 s, longer than
// Prometheus would keep a backlog through a restart, while a real Prometheus keeps evaluating the
// project's VM rules and remote-writing them through APP 3; 15 s into the outage Prometheus itself is
// restarted (same data directory and config: its TSDB keeps what it evaluated).
//
// Prometheus forgets its unsent remote-write backlog when it restarts: the new process only sends
// samples newer than its start. Answering 503 during the outage (no spool) therefore loses every sample
// evaluated between the stop of InfluxDB and the restart. With the spool APP 3 acknowledges (2xx) each
// request once it is fsynced to its spool directory, so nothing is pending in Prometheus when it
// restarts, and the replayer sends the spool to InfluxDB once it is back.
//
// After InfluxDB is back (same data, same port): every sample Prometheus holds for the window (from
// before the stop to after InfluxDB's return) is in InfluxDB with the same value, no point is there
// twice or extra, and the spool is empty.
import { afterAll, beforeAll, expect, test } from "bun:test";
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

const OUTAGE_MS = 40_000;
/** When, into the outage, Prometheus is restarted. */
const RESTART_AT_MS = 15_000;
/** How long InfluxDB may take, once back, to hold everything (the replayer backs off up to 30 s). */
const CATCH_UP_MS = 90_000;
const SELECTOR = '{__name__=~"job_instance:.+"}';
const MEASUREMENTS = /^job_instance:/;
/** One node-exporter: the five job_instance:* rules give one series each. */
const SERIES = 5;
let influx: InfluxDb;
let pipeline: Pipeline;
let app3: Pipeline["app3"];

beforeAll(async () => {
  influx = await startInfluxDb({ databases: ["vms", "containers"] });
  pipeline = await startPipeline({ influx: { containers: influx, vms: influx }, ruleInterval: "1s" });
  ({ app3 } = pipeline);
}, 90_000);

afterAll(async () => {
  await pipeline?.stop(); // the Prometheus running now, restarted or not, with the rest
  await influx?.stop();
}, 60_000);

const within = (series: RawSeries[], fromMs: number, toMs: number): RawSeries[] =>
  series
    .map((s) => ({ labels: s.labels, samples: s.samples.filter(([t]) => t >= fromMs && t <= toMs) }))
    .filter((s) => s.samples.length > 0);

/** Prometheus' samples of the rules in [fromMs, toMs], both ends included. */
async function evaluated(fromMs: number, toMs: number): Promise<RawSeries[]> {
  const rangeS = (toMs - fromMs) / 1000 + 10; // a margin: the window is cut exactly below
  return within(await prometheusRaw(pipeline.prom.url, SELECTOR, rangeS, toMs / 1000), fromMs, toMs);
}

const count = (series: RawSeries[]) => series.reduce((n, s) => n + s.samples.length, 0);

/**
 * Prometheus' samples in [fromMs, toMs] against InfluxDB's points in the same window.
 *
 * Missing: a sample Prometheus holds that InfluxDB has not, or with another value.
 *
 * Duplicated: InfluxDB keeps one point per series and timestamp (a second write of the same point
 * overwrites the first), so a sample written twice cannot show as two points; what "no duplicate" can
 * mean there is that each series has exactly as many points as it has distinct timestamps and as
 * Prometheus has samples, and no series or point that Prometheus has not (nothing written twice under
 * another timestamp, tag set or measurement).
 */
async function compare(fromMs: number, toMs: number) {
  const want = await evaluated(fromMs, toMs);
  const got = await influxRaw(influx, "vms", MEASUREMENTS, fromMs, toMs);
  const inSink = new Map(got.map((s) => [seriesKey(s.labels), s]));
  const wanted = new Set(want.map((s) => seriesKey(s.labels)));
  const missing: string[] = [];
  const duplicated: string[] = [];
  let stored = 0;
  for (const series of want) {
    const name = series.labels.__name__;
    const points = inSink.get(seriesKey(series.labels))?.samples ?? [];
    const values = new Map(points);
    for (const [t, v] of series.samples) {
      const w = values.get(t);
      if (w !== undefined && Math.abs(w - v) <= 1e-12 * Math.max(1, Math.abs(v))) stored++;
      else missing.push(`${name}@${t}: prometheus ${v}, sink ${w}`);
    }
    if (points.length !== values.size || points.length > series.samples.length) {
      duplicated.push(
        `${name}: ${points.length} points in the sink, ${values.size} timestamps, ${series.samples.length} in prometheus`,
      );
    }
    const timestamps = new Set(series.samples.map(([t]) => t));
    for (const [t, v] of points) {
      if (!timestamps.has(t)) duplicated.push(`${name}@${t}: ${v} in the sink, not in prometheus`);
    }
  }
  for (const s of got) {
    if (!wanted.has(seriesKey(s.labels))) {
      duplicated.push(
        `${JSON.stringify(s.labels)}: ${s.samples.length} points in the sink, no such series in prometheus`,
      );
    }
  }
  return { series: want.length, evaluated: count(want), stored, sinkPoints: count(got), missing, duplicated };
}

/** What APP 3 reports of its answers and its spool. */
async function app3State() {
  const url = app3.runtime.url;
  // The spool's metrics are absent when APP 3 runs without one (REMOTE_WRITE_SPOOL_MAX_BYTES=0): read
  // as NaN then, which fails every check of them below (and is printed as such).
  const spool = (name: string) => scrapeValueOr(url, name, {}, NaN);
  return {
    // Requests are counted by the status answered, none pre-set: before the first 503 (or 204)
    // there is no such series at all (it is 0).
    r204: await scrapeValueOr(url, "tarsd_remote_write_requests_total", { status: "204" }, 0),
    r503: await scrapeValueOr(url, "tarsd_remote_write_requests_total", { status: "503" }, 0),
    spoolBytes: await spool("tarsd_remote_write_spool_bytes"),
    oldestAge: await spool("tarsd_remote_write_spool_oldest_age_seconds"),
    spooling: await spool("tarsd_remote_write_spooling"),
    spooledRequests: await spool("tarsd_remote_write_spooled_requests_total"),
    spooledBytes: await spool("tarsd_remote_write_spooled_bytes_total"),
    replayedBytes: await spool("tarsd_remote_write_spool_replayed_bytes_total"),
  };
}

test("sink down 40 s, Prometheus restarted meanwhile: acknowledged from the spool, 0 lost, 0 duplicated", async () => {
  // Healthy first: samples flow.
  const deadline = Date.now() + 60_000;
  while (
    (await influxRaw(influx, "vms", MEASUREMENTS, Date.now() - 60_000, Date.now())).length < SERIES &&
    Date.now() < deadline
  ) {
    await Bun.sleep(1000);
  }

  const before = await app3State();
  const outageStart = Date.now();
  await influx.stop();

  // Watched each second through the outage: the peak of the spool and whether APP 3 said it spools.
  let spoolBytesPeak = 0;
  let spoolingSeen = 0;
  const watchUntil = async (untilMs: number) => {
    while (Date.now() < untilMs) {
      const s = await app3State();
      spoolBytesPeak = Math.max(spoolBytesPeak, s.spoolBytes);
      spoolingSeen = Math.max(spoolingSeen, s.spooling);
      await Bun.sleep(Math.min(1000, Math.max(0, untilMs - Date.now())));
    }
  };
  await watchUntil(outageStart + RESTART_AT_MS);

  // What the Prometheus about to stop has not delivered: lost with it when it is gone.
  const oldProm = pipeline.prom;
  const pendingAtStop = await scrapeValue(oldProm.url, "prometheus_remote_storage_samples_pending", {
    remote_name: "app3-vms",
  });
  const restartStart = Date.now();
  const newProm = await pipeline.restartPrometheus();
  const restartedAt = Date.now();
  await watchUntil(outageStart + OUTAGE_MS);

  const during = await app3State();
  influx = await startInfluxDb({ databases: ["vms", "containers"], dataDir: influx.dataDir, port: influx.port });
  const outageEnd = Date.now();

  // Window: from 2 s before the stop to 2 s after InfluxDB's return, judged once it is all delivered
  // and the spool is empty.
  const from = outageStart - 2000;
  const to = outageEnd + 2000;
  const catchUp = Date.now() + CATCH_UP_MS;
  let result = await compare(from, to);
  let after = await app3State();
  while (
    (result.missing.length > 0 || result.duplicated.length > 0 || after.spoolBytes > 0 || after.oldestAge > 0) &&
    Date.now() < catchUp
  ) {
    await Bun.sleep(1000);
    result = await compare(from, to);
    after = await app3State();
  }
  const caughtUpS = Math.round((Date.now() - outageEnd) / 1000);
  // The samples that a restart without the spool loses: evaluated in the outage before the restart.
  const beforeRestart = count(await evaluated(outageStart, restartStart));
  const afterRestart = count(await evaluated(restartedAt, outageEnd));

  console.log(
    `fault: sink down ${Math.round((outageEnd - outageStart) / 1000)} s; Prometheus restarted ` +
      `${Math.round((restartStart - outageStart) / 1000)} s in (port ${oldProm.port} -> ${newProm.port}, ` +
      `${
        Math.round((restartedAt - restartStart) / 1000)
      } s to be ready, ${pendingAtStop} samples pending at the stop); ` +
      `APP 3 answered 204 ${during.r204 - before.r204} times and 503 ${during.r503 - before.r503} times, ` +
      `spooled ${during.spooledRequests - before.spooledRequests} requests ` +
      `(${during.spooledBytes - before.spooledBytes} bytes), spool peak ${spoolBytesPeak} bytes, ` +
      `spooling ${spoolingSeen}; ${result.evaluated} samples of ${result.series} series evaluated by Prometheus ` +
      `in the window (${beforeRestart} in the outage before the restart, ${afterRestart} after it), ` +
      `${result.stored} in the sink (${result.sinkPoints} points), ${result.missing.length} missing, ` +
      `${result.duplicated.length} duplicated or extra; after ${caughtUpS} s: spool ${after.spoolBytes} bytes, ` +
      `oldest ${after.oldestAge} s, spooling ${after.spooling}; ` +
      `${after.spooledBytes - before.spooledBytes} bytes spooled in all, ` +
      `${after.replayedBytes - before.replayedBytes} replayed`,
  );

  // Nothing lost, nothing twice.
  expect(result.missing).toEqual([]);
  expect(result.duplicated).toEqual([]);
  expect(result.stored).toBe(result.evaluated);
  expect(result.sinkPoints).toBe(result.evaluated);
  // The window held what the scenario needs: evaluations before the stop, in the outage before the
  // restart (what Prometheus forgets on restart) and after it (sent by the new process).
  expect(result.series).toBe(SERIES);
  expect(beforeRestart).toBeGreaterThanOrEqual(SERIES * 10);
  expect(afterRestart).toBeGreaterThanOrEqual(SERIES * 10);
  expect(result.evaluated).toBeGreaterThanOrEqual(SERIES * 30);
  // How: APP 3 acknowledged from the spool during the outage and pushed nothing back.
  expect(during.r204 - before.r204).toBeGreaterThan(0);
  expect(during.r503 - before.r503).toBe(0);
  expect(spoolingSeen).toBe(1);
  expect(spoolBytesPeak).toBeGreaterThan(0);
  expect(during.spooledRequests - before.spooledRequests).toBeGreaterThan(0);
  // And it is all replayed: the spool is empty, live writes go direct again.
  expect(after.spoolBytes).toBe(0);
  expect(after.oldestAge).toBe(0);
  expect(after.spooling).toBe(0);
  expect(after.replayedBytes - before.replayedBytes).toBeGreaterThan(0);
}, 240_000);
