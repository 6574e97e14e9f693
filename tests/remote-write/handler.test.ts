// Every status code of the durability contract (lib/remote-write/statuses.ts), through the real handler,
// the real sinks and a real HTTP server standing in for InfluxDB (so the client's actual behaviour is
// what is tested). Each handler counts on a registry of its own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import { linesOf } from "./lines.ts";
import { createRemoteWriteHandler } from "../../lib/remote-write/handler.ts";
import { remoteWriteMetrics } from "../../lib/remote-write/metrics.ts";
import { DEFAULT_REMOTE_WRITE_SETTINGS } from "../../lib/remote-write/settings.ts";
import { fileSink, fileSinkPath } from "../../lib/remote-write/sinks/file.ts";
import { influxSink } from "../../lib/remote-write/sinks/influx.ts";
import type { Sink } from "../../lib/remote-write/sinks/sink.ts";
import { remoteWriteFunction } from "../../functions/remote-write.ts";
import { seriesValue } from "../../harness/metric-series.ts";
import { freePort } from "../../harness/ports.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import {
  compress,
  encodeV1,
  fiveInOneBucket,
  STALE,
  type TestSeries,
  writeRequest,
} from "../../harness/remote-write-requests.ts";

const URL = "http://test/api/v1/write";
const LIMITS = { maxDecodedBytes: 256 * 1024 };
const MAX_BODY_BYTES = 64 * 1024;
const SERIES: TestSeries[] = [
  {
    labels: [["__name__", "job_instance:node_cpu_usage:percent"], ["instance", "vm1:9100"], ["job", "node"]],
    samples: [{ value: 12.5, timestamp: 1_700_000_000_000 }, { value: STALE, timestamp: 1_700_000_001_000 }],
  },
  {
    labels: [["__name__", "up"], ["job", "node"]],
    samples: [{ value: 1, timestamp: 1_700_000_000_000 }, { value: NaN, timestamp: 1_700_000_001_000 }],
  },
];

/** The handler over `sink`, counting on a registry of its own (`handler.registry`). */
function handlerOver(sink: Sink) {
  const registry = new Registry();
  const handler = createRemoteWriteHandler({ limits: LIMITS, sink, metrics: remoteWriteMetrics(registry) });
  return Object.assign(handler, { registry });
}

/** A fake InfluxDB /api/v2/write whose answer each test sets; records what it received. */
let influx: Server<undefined>;
let influxUrl: string;
let answer: (req: Request) => Response | Promise<Response> = () => new Response(null, { status: 204 });
const received: { url: string; body: string; auth: string | null }[] = [];

beforeAll(() => {
  influx = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const bytes = new Uint8Array(await req.arrayBuffer());
      const body = req.headers.get("content-encoding") === "gzip"
        ? new TextDecoder().decode(Bun.gunzipSync(bytes))
        : new TextDecoder().decode(bytes);
      received.push({ url: req.url, body, auth: req.headers.get("authorization") });
      return answer(req);
    },
  });
  influxUrl = `http://127.0.0.1:${influx.port}`;
});
afterAll(() => influx.stop(true));

function viaInflux(timeoutMs = 2000) {
  return handlerOver(influxSink({ url: influxUrl, token: "influx-secret", org: "tarsd", bucket: "vms", timeoutMs }));
}

describe("InfluxDB outcomes -> status codes", () => {
  test("204 only after InfluxDB answered 204; the lines and the write URL are right", async () => {
    received.length = 0;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    answer = async () => {
      await held;
      return new Response(null, { status: 204 });
    };
    const handler = viaInflux();
    const pending = handler(writeRequest(URL, SERIES));
    let settled = false;
    void pending.then(() => (settled = true));
    while (received.length === 0) await Bun.sleep(5);
    await Bun.sleep(50);
    expect(settled).toBe(false); // InfluxDB has not answered yet, so neither have we
    release();
    const res = await pending;
    expect(res.status).toBe(204);
    expect(received).toHaveLength(1);
    const url = new globalThis.URL(received[0]!.url);
    expect(url.pathname).toBe("/api/v2/write");
    expect(Object.fromEntries(url.searchParams)).toEqual({ org: "tarsd", bucket: "vms", precision: "ms" });
    expect(received[0]!.auth).toBe("Token influx-secret");
    expect(received[0]!.body.trimEnd().split("\n")).toEqual([
      "job_instance:node_cpu_usage:percent,instance=vm1:9100,job=node value=12.5 1700000000000",
      "up,job=node value=1 1700000000000",
    ]);
    expect(await seriesValue(handler.registry, "tarsd_remote_write_samples_written_total")).toBe(2);
    expect(await seriesValue(handler.registry, "tarsd_influx_write_duration_seconds_count")).toBe(1);
  });

  test.each([400, 422])("InfluxDB %i -> 400 with InfluxDB's reason", async (code) => {
    answer = () => Response.json({ code: "invalid", message: "unable to parse 'x': bad timestamp" }, { status: code });
    const handler = viaInflux();
    const res = await handler(writeRequest(URL, SERIES));
    expect(res.status).toBe(400);
    expect((await res.json()).error).toContain("unable to parse 'x': bad timestamp");
    expect(await seriesValue(handler.registry, "tarsd_influx_write_errors_total", { kind: "rejected" })).toBe(1);
    expect(await seriesValue(handler.registry, "tarsd_remote_write_samples_written_total")).toBe(0);
  });

  test.each([429, 500, 503, 401, 404])("InfluxDB %i -> 503 so Prometheus retries", async (code) => {
    received.length = 0;
    answer = () => Response.json({ code: "x", message: "nope" }, { status: code });
    const handler = viaInflux();
    const res = await handler(writeRequest(URL, SERIES));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(received).toHaveLength(1); // the client did not retry on its own
    const kind = code === 429 ? "throttled" : code >= 500 ? "server_error" : "config";
    expect(await seriesValue(handler.registry, "tarsd_influx_write_errors_total", { kind })).toBe(1);
  });

  test("InfluxDB not answering in time -> 503", async () => {
    answer = async () => {
      await Bun.sleep(1500);
      return new Response(null, { status: 204 });
    };
    const res = await viaInflux(300)(writeRequest(URL, SERIES));
    expect(res.status).toBe(503);
    expect((await res.json()).error).toContain("timed out");
  });

  test("InfluxDB unreachable -> 503", async () => {
    const port = await freePort();
    const handler = handlerOver(
      influxSink({ url: `http://127.0.0.1:${port}`, org: "o", bucket: "b", timeoutMs: 2000 }),
    );
    const res = await handler(writeRequest(URL, SERIES));
    expect(res.status).toBe(503);
    expect((await res.json()).error).toContain("unreachable");
  });
});

describe("request problems -> status codes", () => {
  const never: Sink = { describe: "never", write: () => Promise.reject(new Error("must not be called")) };
  const handler = handlerOver(never);

  test("400 for corrupt snappy and for snappy-wrapped garbage", async () => {
    const corrupt = compress(encodeV1(SERIES));
    corrupt[0] = 0x30;
    const res = await handler(
      new Request(URL, {
        method: "POST",
        body: corrupt,
        headers: { "content-type": "application/x-protobuf", "content-encoding": "snappy" },
      }),
    );
    expect(res.status).toBe(400);
    expect((await res.json()).error).toContain("snappy");
    const garbage = compress(new Uint8Array([0x0a, 0xff, 0xff, 0x03, 0x01]));
    const res2 = await handler(
      new Request(URL, {
        method: "POST",
        body: garbage,
        headers: { "content-type": "application/x-protobuf", "content-encoding": "snappy" },
      }),
    );
    expect(res2.status).toBe(400);
    expect((await res2.json()).error).toContain("protobuf");
  });

  test("400 for a body cut off before its end", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(compress(encodeV1(SERIES)).subarray(0, 10));
        controller.error(new Error("connection reset"));
      },
    });
    const res = await handler(
      new Request(URL, {
        method: "POST",
        body,
        headers: { "content-type": "application/x-protobuf" },
        duplex: "half",
      } as RequestInit),
    );
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe("request body was cut off: connection reset");
  });

  test("415 for an unsupported content type, encoding or proto message", async () => {
    for (
      const headers of <Record<string, string>[]> [{ "content-type": "application/json" }, {
        "content-encoding": "gzip",
      }, { "content-type": "application/x-protobuf;proto=foo.Bar" }]
    ) {
      expect((await handler(writeRequest(URL, SERIES, { headers }))).status).toBe(415);
    }
  });

  test("413 for a snappy header announcing more than the decoded limit", async () => {
    const bomb = compress(new Uint8Array(LIMITS.maxDecodedBytes + 1)); // ~12 KiB compressed
    const res = await handler(
      new Request(URL, { method: "POST", body: bomb, headers: { "content-type": "application/x-protobuf" } }),
    );
    expect(res.status).toBe(413);
    expect((await res.json()).error).toBe(
      `snappy block announces ${
        LIMITS.maxDecodedBytes + 1
      } uncompressed bytes, over the limit of ${LIMITS.maxDecodedBytes} bytes`,
    );
  });

  test("2.0 duplicate label names -> 400 with the written headers at 0", async () => {
    const res = await handler(
      writeRequest(URL, [{
        labels: [["__name__", "m"], ["a", "1"], ["a", "2"]],
        samples: [{ value: 1, timestamp: 1 }],
      }], { version: 2 }),
    );
    expect(res.status).toBe(400);
    expect(res.headers.get("x-prometheus-remote-write-samples-written")).toBe("0");
  });
});

/** A handler whose sink keeps the lines it is given, in `lines`. */
function capturing() {
  const lines: string[] = [];
  const handler = handlerOver({
    describe: "mem",
    write: (body) => Promise.resolve(void lines.push(...linesOf({ body }))),
  });
  return { lines, handler };
}

describe("2.0 responses and partial data", () => {
  test("204 with X-Prometheus-Remote-Write-*-Written headers", async () => {
    const { lines, handler } = capturing();
    const res = await handler(
      writeRequest(URL, [...SERIES, {
        labels: [["__name__", "e"]],
        samples: [{ value: 3, timestamp: 9 }],
        exemplars: 2,
      }], { version: 2 }),
    );
    expect(res.status).toBe(204);
    expect(lines.filter((l) => !l.startsWith("prometheus_metadata,"))).toEqual([
      "job_instance:node_cpu_usage:percent,instance=vm1:9100,job=node value=12.5 1700000000000",
      "up,job=node value=1 1700000000000",
      "e value=3 9",
      'e exemplar=1,exemplar_trace_id="t0" 1',
      'e exemplar=1,exemplar_trace_id="t1" 2',
    ]);
    // 5 samples accepted: 3 written, the stale marker and the NaN dropped by design.
    expect(res.headers.get("x-prometheus-remote-write-samples-written")).toBe("5");
    expect(res.headers.get("x-prometheus-remote-write-histograms-written")).toBe("0");
    expect(res.headers.get("x-prometheus-remote-write-exemplars-written")).toBe("2");
    expect(await seriesValue(handler.registry, "tarsd_remote_write_exemplars_written_total")).toBe(2);
  });

  test("1.0 answers carry no written headers", async () => {
    const { handler } = capturing();
    const res = await handler(writeRequest(URL, SERIES));
    expect(res.status).toBe(204);
    expect(res.headers.get("x-prometheus-remote-write-samples-written")).toBeNull();
  });

  test("native histograms are written beside the float samples, and counted in their header", async () => {
    const { lines, handler } = capturing();
    const res = await handler(
      writeRequest(URL, [{ labels: [["__name__", "f"]], samples: [{ value: 1, timestamp: 1 }] }, {
        labels: [["__name__", "h"]],
        histograms: 2,
      }], { version: 2 }),
    );
    expect(res.status).toBe(204);
    expect(lines.filter((l) => !l.startsWith("prometheus_metadata,"))).toEqual([
      "f value=1 1",
      'h count=3,counter_reset_hint="unknown",schema=0,sum=1.5,zero_count=0,zero_threshold=0 1000',
      "h_bucket,le=0.5 value=3 1000",
      "h_bucket,le=+Inf value=3 1000",
      'h count=3,counter_reset_hint="unknown",schema=0,sum=1.5,zero_count=0,zero_threshold=0 1001',
      "h_bucket,le=0.5 value=3 1001",
      "h_bucket,le=+Inf value=3 1001",
    ]);
    expect(res.headers.get("x-prometheus-remote-write-samples-written")).toBe("1");
    expect(res.headers.get("x-prometheus-remote-write-histograms-written")).toBe("2");
    expect(await seriesValue(handler.registry, "tarsd_remote_write_histograms_written_total")).toBe(2);
  });

  test("series without a metric name: 400 naming them and their count; the others written; headers exact", async () => {
    const { lines, handler } = capturing();
    const res = await handler(
      writeRequest(URL, [
        { labels: [["__name__", "ok"]], samples: [{ value: 1, timestamp: 1 }] },
        { labels: [["job", "no-name"]], samples: [{ value: 2, timestamp: 1 }, { value: 3, timestamp: 2 }] },
        { labels: [["__name__", ""]], samples: [{ value: 4, timestamp: 1 }], exemplars: 1 },
        { labels: [], samples: [{ value: 5, timestamp: 1 }] },
      ], { version: 2 }),
    );
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe(
      "3 series without a metric name (__name__): 4 samples, 0 histograms and 1 exemplars of them not written; " +
        "the rest of the request was written (1 samples, 0 histograms, 0 exemplars)",
    );
    expect(lines.filter((l) => !l.startsWith("prometheus_metadata,"))).toEqual(["ok value=1 1"]);
    expect(res.headers.get("x-prometheus-remote-write-samples-written")).toBe("1");
    expect(res.headers.get("x-prometheus-remote-write-histograms-written")).toBe("0");
    expect(res.headers.get("x-prometheus-remote-write-exemplars-written")).toBe("0");
    expect(
      await seriesValue(handler.registry, "tarsd_remote_write_samples_dropped_total", {
        reason: "missing_metric_name",
      }),
    ).toBe(4);
  });
  test("exemplars at +Inf and -Inf are stored (exemplar.value) and counted in the Written header", async () => {
    const { lines, handler } = capturing();
    const res = await handler(
      writeRequest(URL, [{
        labels: [["__name__", "latency_seconds"], ["job", "api"]],
        samples: [{ value: 0.25, timestamp: 10 }],
        exemplars: [
          { labels: [["trace_id", "a1"]], value: Infinity, timestamp: 8 },
          { labels: [["trace_id", "b2"]], value: -Infinity, timestamp: 9 },
          { labels: [["trace_id", "c3"]], value: 0.25, timestamp: 10 },
        ],
      }], { version: 2 }),
    );
    expect(res.status).toBe(204);
    expect(lines.filter((l) => !l.startsWith("prometheus_metadata,"))).toEqual([
      "latency_seconds,job=api value=0.25 10",
      'latency_seconds,job=api exemplar.value="+Inf",exemplar_trace_id="a1" 8',
      'latency_seconds,job=api exemplar.value="-Inf",exemplar_trace_id="b2" 9',
      'latency_seconds,job=api exemplar=0.25,exemplar_trace_id="c3" 10',
    ]);
    expect(res.headers.get("x-prometheus-remote-write-exemplars-written")).toBe("3");
    expect(await seriesValue(handler.registry, "tarsd_remote_write_exemplars_written_total")).toBe(3);
  });

  test("a native histogram Prometheus would refuse: 400 naming its series; the rest, its series' too, written", async () => {
    const { lines, handler } = capturing();
    // The second histogram counts 3 of its 5 observations.
    const histogram = fiveInOneBucket;
    const res = await handler(
      writeRequest(URL, [
        { labels: [["__name__", "up"], ["job", "api"]], samples: [{ value: 1, timestamp: 1 }] },
        {
          labels: [["__name__", "http_request_duration_seconds"], ["job", "api"]],
          histograms: [histogram(5, 1000), histogram(3, 2000)],
          exemplars: [{ labels: [["trace_id", "a1"]], value: 0.75, timestamp: 1000 }],
        },
      ], { version: 2 }),
    );
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe(
      "1 native histograms of 1 series refused as Prometheus refuses them, not written: " +
        'http_request_duration_seconds{job="api"}: histogram count 3 < 5 observations in its buckets; ' +
        "the rest of the request was written (1 samples, 1 histograms, 1 exemplars)",
    );
    expect(lines.filter((l) => !l.startsWith("prometheus_metadata,"))).toEqual([
      "up,job=api value=1 1",
      'http_request_duration_seconds,job=api count=5,counter_reset_hint="unknown",schema=0,sum=4,zero_count=0,zero_threshold=0 1000',
      "http_request_duration_seconds_bucket,job=api,le=1 value=5 1000",
      "http_request_duration_seconds_bucket,job=api,le=+Inf value=5 1000",
      'http_request_duration_seconds,job=api exemplar=0.75,exemplar_trace_id="a1" 1000',
    ]);
    expect(res.headers.get("x-prometheus-remote-write-samples-written")).toBe("1");
    expect(res.headers.get("x-prometheus-remote-write-histograms-written")).toBe("1");
    expect(res.headers.get("x-prometheus-remote-write-exemplars-written")).toBe("1");
    expect(await seriesValue(handler.registry, "tarsd_remote_write_histograms_written_total")).toBe(1);
    expect(
      await seriesValue(handler.registry, "tarsd_remote_write_samples_dropped_total", { reason: "invalid_histogram" }),
    ).toBe(1);
  });

  test("many refused histograms and nameless series: one bounded answer naming the first few, counting all", async () => {
    const { lines, handler } = capturing();
    const res = await handler(
      writeRequest(URL, [
        { labels: [["__name__", "ok"]], samples: [{ value: 1, timestamp: 1 }] },
        { labels: [["job", "no-name"]], samples: [{ value: 2, timestamp: 1 }] },
        ...Array.from({ length: 50 }, (_, i) => ({
          labels: [["__name__", `h${i}`], ["trace", "x".repeat(1000)]] as [string, string][],
          histograms: [{ countInt: 1, sum: 1, schema: 0, timestamp: 1 }], // no bucket holds the observation
        })),
      ]),
    );
    expect(res.status).toBe(400);
    const error: string = (await res.json()).error;
    expect(error).toStartWith(
      "1 series without a metric name (__name__): 1 samples, 0 histograms and 0 exemplars of them not written; " +
        '50 native histograms of 50 series refused as Prometheus refuses them, not written: h0{trace="xxx',
    );
    expect(error).toEndWith(
      "…: histogram count 1 > 0 observations in its buckets, with a sum that is not NaN (only NaN observations " +
        "are counted outside the buckets, and they make the sum NaN); and 47 more series; " +
        "the rest of the request was written (1 samples, 0 histograms, 0 exemplars)",
    );
    expect(error.length).toBeLessThan(1600); // 3 names of at most 200 characters, whatever the request
    expect(lines).toEqual(["ok value=1 1"]);
  });
});

describe("embedded file sink", () => {
  test("appends line protocol to $DATA_DIR/metrics/<bucket>.lp before answering; concurrent requests never interleave", async () => {
    const dir = tempDir();
    const handler = handlerOver(fileSink(dir, "vms"));
    const many = handlerOver(fileSink(dir, "vms"));
    expect((await handler(writeRequest(URL, SERIES))).status).toBe(204);
    const path = join(dir, "metrics", "vms.lp");
    expect(readFileSync(path, "utf8")).toBe(
      "job_instance:node_cpu_usage:percent,instance=vm1:9100,job=node value=12.5 1700000000000\nup,job=node value=1 1700000000000\n",
    );
    const batch = (i: number): TestSeries[] =>
      Array.from(
        { length: 200 },
        (_, j) => ({ labels: [["__name__", "c"], ["req", String(i)]], samples: [{ value: j, timestamp: j }] }),
      );
    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => many(writeRequest(URL, batch(i))).then((r) => r.status)),
    );
    expect(statuses).toEqual(Array(10).fill(204));
    const lines = readFileSync(path, "utf8").trimEnd().split("\n").slice(2);
    expect(lines).toHaveLength(2000);
    for (let i = 0; i < 10; i++) {
      const mine = lines.filter((l) => l.startsWith(`c,req=${i} `));
      expect(mine.map((l) => Number(l.split(" ")[2]))).toEqual(Array.from({ length: 200 }, (_, j) => j)); // in order, complete
    }
  });

  test("the bucket name cannot escape the metrics directory", () => {
    expect(fileSinkPath("/data", "../../etc/passwd")).toBe("/data/metrics/__.._etc_passwd.lp");
  });
});

describe("through the function contract, as functions/remote-write.ts builds it", () => {
  // The contract applies the route's body limit and checks the token (REMOTE_WRITE_TOKEN, then
  // AUTH_TOKEN), and shows every answer, its own 401s and 413s included, to the function's counter.
  const built = (token?: string) => {
    const registry = new Registry();
    const fn = remoteWriteFunction(
      { ...DEFAULT_REMOTE_WRITE_SETTINGS, ...LIMITS, maxBodyBytes: MAX_BODY_BYTES, dataDir: tempDir(), token },
      { registry, sink: { describe: "mem", write: () => Promise.resolve() } },
    );
    return { fn, registry };
  };

  test("401 without or with a wrong bearer token, counted like every other answer", async () => {
    const { fn, registry } = built("s3cret");
    expect((await fn.fetch(writeRequest(URL, SERIES))).status).toBe(401);
    expect((await fn.fetch(writeRequest(URL, SERIES, { headers: { authorization: "Bearer nope" } }))).status).toBe(401);
    expect((await fn.fetch(writeRequest(URL, SERIES, { headers: { authorization: "Bearer s3cret" } }))).status).toBe(
      204,
    );
    expect(await seriesValue(registry, "tarsd_remote_write_requests_total", { status: "401" })).toBe(2);
    expect(await seriesValue(registry, "tarsd_remote_write_requests_total", { status: "204" })).toBe(1);
  });

  test("413 for a body over the route's limit, by Content-Length and by counting a chunked body", async () => {
    const { fn, registry } = built();
    const big = new Uint8Array(MAX_BODY_BYTES + 1);
    const declared = await fn.fetch(
      new Request(URL, { method: "POST", body: big, headers: { "content-type": "application/x-protobuf" } }),
    );
    expect(declared.status).toBe(413);
    expect((await declared.json()).error).toBe(
      `request body of ${MAX_BODY_BYTES + 1} bytes is over the limit of ${MAX_BODY_BYTES} bytes`,
    );
    const chunked = await fn.fetch(
      new Request(URL, {
        method: "POST",
        body: new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(MAX_BODY_BYTES / 2));
            controller.close();
          },
        }),
        headers: { "content-type": "application/x-protobuf" },
        duplex: "half",
      } as RequestInit),
    );
    expect(chunked.status).toBe(413);
    expect((await chunked.json()).error).toContain(`over the limit of ${MAX_BODY_BYTES} bytes`);
    expect(await seriesValue(registry, "tarsd_remote_write_requests_total", { status: "413" })).toBe(2);
  });

  test("requests by status, received/dropped samples and request bytes are counted", async () => {
    const { fn, registry } = built();
    const request = writeRequest(URL, SERIES);
    const size = (await request.clone().arrayBuffer()).byteLength;
    expect((await fn.fetch(request)).status).toBe(204);
    expect((await fn.fetch(writeRequest(URL, SERIES, { headers: { "content-type": "text/plain" } }))).status).toBe(
      415,
    );
    const value = (name: string, labels?: Record<string, string>) => seriesValue(registry, name, labels);
    expect(await value("tarsd_remote_write_requests_total", { status: "204" })).toBe(1);
    expect(await value("tarsd_remote_write_requests_total", { status: "415" })).toBe(1);
    expect(await value("tarsd_remote_write_samples_received_total")).toBe(4);
    expect(await value("tarsd_remote_write_samples_written_total")).toBe(2);
    expect(await value("tarsd_remote_write_samples_dropped_total", { reason: "stale" })).toBe(1);
    expect(await value("tarsd_remote_write_samples_dropped_total", { reason: "nan" })).toBe(1);
    expect(await value("tarsd_remote_write_samples_dropped_total", { reason: "inf" })).toBe(0);
    expect(await value("tarsd_remote_write_request_bytes_total")).toBe(size);
    expect(await value("tarsd_influx_write_duration_seconds_count")).toBe(1);
  });
});
