// Every part of a remote-write request, through the real runtime into a real InfluxDB
// (harness/influxdb.ts), read back with Flux as a user would: native histograms (the requests built
// by Prometheus' own code, tests/fixtures/remote-write/native-histograms) with their buckets and a
// quantile from Flux's histogramQuantile(), exemplars next to their series (±Inf ones too), a metric's
// metadata next to it, and series without a metric name or with a histogram Prometheus would refuse
// refused (400) while the rest of the request is stored.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { type InfluxDb, startInfluxDb } from "../../harness/influxdb.ts";
import { compress, fiveInOneBucket, writeRequest } from "../../harness/remote-write-requests.ts";
import { type RuntimeProcess, startRuntime } from "../../harness/runtime-process.ts";
import { CONTENT_TYPE_V1, CONTENT_TYPE_V2 } from "../../harness/remote-write-schema.ts";

interface Case {
  name: string;
  labels: Record<string, string>;
  version: 1 | 2;
  message_base64: string;
  histograms: { timestamp: number; count: number; buckets: { le: string; cumulative: number }[] }[];
}
const CASES = JSON.parse(
  readFileSync(join(REPO_ROOT, "tests", "fixtures", "remote-write", "native-histograms", "cases.json"), "utf8"),
) as Case[];

let influx: InfluxDb;
let app: RuntimeProcess;
beforeAll(async () => {
  influx = await startInfluxDb({ databases: ["vms"] });
  app = await startRuntime({
    FUNCTIONS: "remote-write",
    INFLUX_URL: influx.url,
    INFLUX_ORG: "tarsd",
    INFLUX_BUCKET: "vms",
    LOG_REQUESTS: "0",
  });
}, 60_000);
afterAll(async () => {
  await app?.stop();
  await influx?.stop();
}, 30_000);

const post = (c: Case) =>
  fetch(`${app.url}/api/v1/write`, {
    method: "POST",
    body: compress(new Uint8Array(Buffer.from(c.message_base64, "base64"))),
    headers: { "content-type": c.version === 1 ? CONTENT_TYPE_V1 : CONTENT_TYPE_V2, "content-encoding": "snappy" },
  });

const bound = (le: string | undefined) => (le === "+Inf" ? Infinity : Number(le));
const flux = (query: string) => influx.flux(`from(bucket: "vms") |> range(start: 0) ${query}`);

test(
  "native histograms built by Prometheus are stored with their buckets; Flux's histogramQuantile reads them",
  async () => {
    for (const c of CASES) {
      const res = await post(c);
      expect({ name: c.name, status: res.status }).toEqual({ name: c.name, status: 204 });
      if (c.version === 2) {
        expect(res.headers.get("x-prometheus-remote-write-histograms-written")).toBe(String(c.histograms.length));
      }
    }
    // The schema -2 case, as a user finds it: its buckets, cumulative by le.
    const c = CASES.find((x) => x.name.startsWith("integer, schema -2"))!;
    const at = new Date(c.histograms[0]!.timestamp).toISOString().replace(".000Z", "Z");
    const series = `r.case == "${c.labels.case}" and r._time == ${at}`;
    const rows = await flux(
      `|> filter(fn: (r) => r._measurement == "http_request_duration_seconds_bucket" and ${series})`,
    );
    expect(rows.map((r) => ({ le: r.le, cumulative: Number(r._value) })).sort((a, b) => bound(a.le) - bound(b.le)))
      .toEqual(c.histograms[0]!.buckets);
    // A quantile the classic way (linear within a bucket): rank 5 of 10 is 2/3 into (16, 256] -> 176.
    const [median] = await flux(
      `|> filter(fn: (r) => r._measurement == "http_request_duration_seconds_bucket" and ${series})
     |> group(columns: ["_time"])
     |> map(fn: (r) => ({r with le: float(v: r.le)}))
     |> histogramQuantile(quantile: 0.5)`,
    );
    expect(Number(median!._value)).toBe(176);
    const [point] = await flux(
      `|> filter(fn: (r) => r._measurement == "http_request_duration_seconds" and r._field == "count" and ${series})`,
    );
    expect(Number(point!._value)).toBe(c.histograms[0]!.count);
  },
  60_000,
);

test("exemplars are found next to their series: value and trace id as fields, at their own time", async () => {
  const res = await fetch(writeRequest(`${app.url}/api/v1/write`, [{
    labels: [["__name__", "checkout_requests_total"], ["code", "200"]],
    samples: [{ value: 41, timestamp: 1_700_000_100_000 }],
    exemplars: 2,
  }], { version: 2 }));
  expect(res.status).toBe(204);
  expect(res.headers.get("x-prometheus-remote-write-exemplars-written")).toBe("2");
  const rows = await flux(`|> filter(fn: (r) => r._measurement == "checkout_requests_total")`);
  const fields = rows.map((r) => ({ field: r._field, value: r._value, code: r.code })).sort((a, b) =>
    `${a.field}${a.value}` < `${b.field}${b.value}` ? -1 : 1
  );
  expect(fields).toEqual([
    { field: "exemplar", value: "1", code: "200" },
    { field: "exemplar", value: "1", code: "200" },
    { field: "exemplar_trace_id", value: "t0", code: "200" },
    { field: "exemplar_trace_id", value: "t1", code: "200" },
    { field: "value", value: "41", code: "200" },
  ]);
  // trace ids are fields, so they add no series: the measurement's tag keys stay the series' labels.
  const tags = await influx.influxql("vms", 'SHOW TAG KEYS FROM "checkout_requests_total"');
  expect(tags.flatMap((s) => s.values.map((v) => v[0]))).toEqual(["code"]);
}, 30_000);

test(
  "exemplars at +Inf and -Inf: stored as the string exemplar.value, counted, read back as floats by Flux",
  async () => {
    const res = await fetch(writeRequest(`${app.url}/api/v1/write`, [{
      labels: [["__name__", "inf_exemplar_seconds"], ["job", "api"]],
      samples: [{ value: 0.5, timestamp: 1_700_000_300_000 }],
      exemplars: [
        {
          labels: [["trace_id", "up"], ["value", "a label named value"]],
          value: Infinity,
          timestamp: 1_700_000_300_001,
        },
        { labels: [["trace_id", "down"]], value: -Infinity, timestamp: 1_700_000_300_002 },
        { labels: [["trace_id", "finite"]], value: 0.5, timestamp: 1_700_000_300_003 },
      ],
    }], { version: 2 }));
    expect(res.status).toBe(204);
    expect(res.headers.get("x-prometheus-remote-write-exemplars-written")).toBe("3");
    const rows = await flux(
      `|> filter(fn: (r) => r._measurement == "inf_exemplar_seconds" and r._field != "value")
     |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
     |> map(fn: (r) => ({r with back: if exists r["exemplar.value"] then float(v: r["exemplar.value"]) else r.exemplar}))
     |> map(fn: (r) => ({r with sign: if r.back > 0.0 then "+" else if r.back < 0.0 then "-" else "0"}))`,
    );
    expect(
      rows.map((r) => ({
        text: r["exemplar.value"],
        exemplar: r.exemplar,
        trace: r.exemplar_trace_id,
        label: r.exemplar_value,
        sign: r.sign,
        back: r.back,
      })),
    ).toEqual([
      { text: "+Inf", exemplar: "", trace: "up", label: "a label named value", sign: "+", back: "+Inf" },
      { text: "-Inf", exemplar: "", trace: "down", label: "", sign: "-", back: "-Inf" },
      { text: "", exemplar: "0.5", trace: "finite", label: "", sign: "+", back: "0.5" },
    ]);
  },
  30_000,
);

test("a native histogram Prometheus would refuse: 400 naming its series, the rest of the request stored", async () => {
  const histogram = fiveInOneBucket;
  const res = await fetch(writeRequest(`${app.url}/api/v1/write`, [
    { labels: [["__name__", "beside_refused"], ["job", "api"]], samples: [{ value: 9, timestamp: 1_700_000_400_000 }] },
    {
      labels: [["__name__", "refused_seconds"], ["job", "api"]],
      histograms: [histogram(5, 1_700_000_400_000), histogram(3, 1_700_000_400_001)],
    },
  ], { version: 2 }));
  expect(res.status).toBe(400);
  expect((await res.json()).error).toContain(
    'refused_seconds{job="api"}: histogram count 3 < 5 observations in its buckets',
  );
  expect(res.headers.get("x-prometheus-remote-write-histograms-written")).toBe("1");
  expect((await flux(`|> filter(fn: (r) => r._measurement == "beside_refused")`)).map((r) => r._value)).toEqual(["9"]);
  const counts = await flux(`|> filter(fn: (r) => r._measurement == "refused_seconds" and r._field == "count")`);
  expect(counts.map((r) => [r._time, r._value])).toEqual([["2023-11-14T22:20:00Z", "5"]]);
}, 30_000);

test("a metric's type, help and unit are stored next to it (prometheus_metadata)", async () => {
  const rows = await flux(
    `|> filter(fn: (r) => r._measurement == "prometheus_metadata" and r.metric == "http_request_duration_seconds")`,
  );
  expect(Object.fromEntries(rows.map((r) => [r._field, r._value]))).toEqual({
    type: "histogram",
    help: "Request latency.",
    unit: "seconds",
  });
}, 30_000);

test("series without a metric name: 400 naming them, the other series of the request stored", async () => {
  const res = await fetch(writeRequest(`${app.url}/api/v1/write`, [
    { labels: [["__name__", "named_series"], ["job", "a"]], samples: [{ value: 7, timestamp: 1_700_000_200_000 }] },
    { labels: [["job", "a"]], samples: [{ value: 8, timestamp: 1_700_000_200_000 }] },
  ]));
  expect(res.status).toBe(400);
  expect((await res.json()).error).toContain("1 series without a metric name (__name__)");
  const rows = await flux(`|> filter(fn: (r) => r._measurement == "named_series")`);
  expect(rows.map((r) => Number(r._value))).toEqual([7]);
}, 30_000);
