// The function as functions/remote-write.ts builds it, served in this process by the real host
// (harness/in-process.ts) on a loopback port: the embedded file sink over a temporary directory (no
// INFLUX_URL, as `bun run start` runs it) and a registry of its own per runtime. Every route, every
// status of lib/remote-write/statuses.ts, and what /metrics and /openapi.json show of them.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Registry } from "prom-client";
import { remoteWriteFunction } from "../../functions/remote-write.ts";
import { DEFAULT_REMOTE_WRITE_SETTINGS, type RemoteWriteSettings } from "../../lib/remote-write/settings.ts";
import { SinkError } from "../../lib/remote-write/sinks/sink.ts";
import type { Sink } from "../../lib/remote-write/sinks/sink.ts";
import { REMOTE_WRITE_STATUSES } from "../../lib/remote-write/statuses.ts";
import { type InProcessRuntime, newRegistry, startInProcess } from "../../harness/in-process.ts";
import { seriesValue } from "../../harness/metric-series.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import { compress, encodeV1, STALE, type TestSeries, writeRequest } from "../../harness/remote-write-requests.ts";
// deno-lint-ignore no-sloppy-imports -- plain JS, typed by web/prom.d.ts
import { parseMetrics, select } from "../../web/prom.js";

const MAX_BODY_BYTES = 64 * 1024;
const MAX_DECODED_BYTES = 256 * 1024;

interface Served extends InProcessRuntime {
  dataDir: string;
  registry: Registry;
}

const runtimes: InProcessRuntime[] = [];
afterAll(async () => void (await Promise.all(runtimes.map((rt) => rt.stop()))));

/** The function built from the defaults and `settings`, on a fresh registry and data directory, served in process. */
async function serve(settings: Partial<RemoteWriteSettings> = {}, sink?: Sink): Promise<Served> {
  const dataDir = tempDir();
  const registry = newRegistry();
  const fn = remoteWriteFunction(
    {
      ...DEFAULT_REMOTE_WRITE_SETTINGS,
      maxBodyBytes: MAX_BODY_BYTES,
      maxDecodedBytes: MAX_DECODED_BYTES,
      dataDir,
      ...settings,
    },
    { registry, sink },
  );
  const rt = await startInProcess({ "remote-write": fn }, { registry });
  runtimes.push(rt);
  return { ...rt, dataDir, registry };
}

const series: TestSeries[] = [{
  labels: [["__name__", "job_instance:node_memory_used:bytes"], ["instance", "vm1:9100"], ["job", "node"]],
  samples: [{ value: 1024, timestamp: 1_700_000_000_000 }, { value: STALE, timestamp: 1_700_000_001_000 }],
}];
const line = "job_instance:node_memory_used:bytes,instance=vm1:9100,job=node value=1024 1700000000000";

/** A snappy body sent as Prometheus sends it, with other headers. */
const post = (url: string, body: Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/x-protobuf", "content-encoding": "snappy", ...headers },
  });

test("embedded default: 1.0 on /api/v1/write and the old /api/v1/prom/write path, 2.0 with written headers", async () => {
  const app = await serve({ influxBucket: "vms", token: "t0ken" });
  const auth = { authorization: "Bearer t0ken" };
  const r1 = await fetch(writeRequest(`${app.url}/api/v1/write`, series, { headers: auth }));
  expect(r1.status).toBe(204);
  expect(await r1.text()).toBe("");
  const r2 = await fetch(writeRequest(`${app.url}/api/v1/prom/write`, series, { headers: auth }));
  expect(r2.status).toBe(204);
  const r3 = await fetch(writeRequest(`${app.url}/api/v1/write`, series, { version: 2, headers: auth }));
  expect(r3.status).toBe(204);
  expect(r3.headers.get("x-prometheus-remote-write-samples-written")).toBe("2");
  expect(r3.headers.get("x-prometheus-remote-write-histograms-written")).toBe("0");
  expect(r3.headers.get("x-prometheus-remote-write-exemplars-written")).toBe("0");
  const r4 = await fetch(writeRequest(`${app.url}/api/v1/prom/write`, series));
  expect(r4.status).toBe(401);

  // The 2.0 request also carried the series' metadata (type and help): stored next to it.
  const metadata =
    'prometheus_metadata,metric=job_instance:node_memory_used:bytes help="help text",type="gauge" 1700000001000';
  expect(readFileSync(join(app.dataDir, "metrics", "vms.lp"), "utf8")).toBe(`${line}\n${line}\n${line}\n${metadata}\n`);

  // What the host serves at /metrics is the registry the function was built with.
  const metrics = parseMetrics(await (await fetch(`${app.url}/metrics`)).text());
  const served = (name: string, labels: Record<string, string> = {}) => select(metrics, name, labels)[0]?.value;
  expect(served("tarsd_remote_write_requests_total", { status: "204" })).toBe(3);
  expect(served("tarsd_remote_write_requests_total", { status: "401" })).toBe(1); // refused by the contract, still counted
  const value = (name: string, labels?: Record<string, string>) => seriesValue(app.registry, name, labels);
  expect(await value("tarsd_remote_write_requests_total", { status: "204" })).toBe(3);
  expect(await value("tarsd_remote_write_requests_total", { status: "401" })).toBe(1);
  expect(await value("tarsd_remote_write_samples_received_total")).toBe(6);
  expect(await value("tarsd_remote_write_samples_dropped_total", { reason: "stale" })).toBe(3);
  expect(await value("tarsd_remote_write_samples_written_total")).toBe(3);
  expect(await value("tarsd_influx_write_duration_seconds_count")).toBe(3);
});

test("401 without a token or with a wrong one, when a token is set; JSON with the reason", async () => {
  const app = await serve({ token: "s3cret" });
  for (
    const headers of [{}, { authorization: "Bearer nope" }, { authorization: "s3cret" }] as Record<string, string>[]
  ) {
    const res = await fetch(writeRequest(`${app.url}/api/v1/write`, series, { headers }));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: expect.any(String), status: 401 });
  }
  expect(await seriesValue(app.registry, "tarsd_remote_write_requests_total", { status: "401" })).toBe(3);
  expect(await seriesValue(app.registry, "tarsd_remote_write_samples_received_total")).toBe(0);
});

describe("request problems", () => {
  test("413 for a body over REMOTE_WRITE_MAX_BYTES (the route's limit): declared, or counted as it arrives", async () => {
    const app = await serve();
    const declared = await post(`${app.url}/api/v1/write`, new Uint8Array(MAX_BODY_BYTES + 1));
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({
      error: `request body of ${MAX_BODY_BYTES + 1} bytes is over the limit of ${MAX_BODY_BYTES} bytes`,
      status: 413,
    });
    const chunked = await fetch(`${app.url}/api/v1/prom/write`, {
      method: "POST",
      body: new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(MAX_BODY_BYTES / 2));
          controller.close();
        },
      }),
      headers: { "content-type": "application/x-protobuf" },
      // @ts-expect-error -- streaming request bodies need half duplex
      duplex: "half",
    });
    expect(chunked.status).toBe(413);
    expect((await chunked.json()).error).toContain(`over the limit of ${MAX_BODY_BYTES} bytes`);
    expect(await seriesValue(app.registry, "tarsd_remote_write_requests_total", { status: "413" })).toBe(2);
  });

  test("413 for a snappy block announcing more than REMOTE_WRITE_MAX_DECODED_BYTES", async () => {
    const app = await serve();
    const bomb = compress(new Uint8Array(MAX_DECODED_BYTES + 1)); // ~12 KiB compressed
    expect(bomb.length).toBeLessThan(MAX_BODY_BYTES);
    const res = await post(`${app.url}/api/v1/write`, bomb);
    expect(res.status).toBe(413);
    expect((await res.json()).error).toContain(`over the limit of ${MAX_DECODED_BYTES} bytes`);
  });

  test("415 for an unsupported Content-Type, Content-Encoding or proto message", async () => {
    const app = await serve();
    const body = compress(encodeV1(series));
    for (
      const headers of <Record<string, string>[]> [
        { "content-type": "application/json" },
        { "content-encoding": "gzip" },
        { "content-type": "application/x-protobuf;proto=io.prometheus.write.v3.Request" },
      ]
    ) {
      const res = await post(`${app.url}/api/v1/write`, body, headers);
      expect({ headers, status: res.status }).toEqual({ headers, status: 415 });
      expect((await res.json()).status).toBe(415);
    }
    expect(await seriesValue(app.registry, "tarsd_remote_write_requests_total", { status: "415" })).toBe(3);
  });

  test("400 for a malformed snappy block or protobuf message; nothing written", async () => {
    const app = await serve({ influxBucket: "b" });
    const corrupt = compress(encodeV1(series));
    corrupt[0] = 0x30; // claims 48 bytes that are not there
    const snappy = await post(`${app.url}/api/v1/write`, corrupt);
    expect(snappy.status).toBe(400);
    expect((await snappy.json()).error).toContain("malformed snappy block");
    const protobuf = await post(`${app.url}/api/v1/write`, compress(new Uint8Array([0x0a, 0xff, 0xff, 0x03, 0x01])));
    expect(protobuf.status).toBe(400);
    expect((await protobuf.json()).error).toContain("malformed protobuf prometheus.WriteRequest");
    expect(await seriesValue(app.registry, "tarsd_remote_write_requests_total", { status: "400" })).toBe(2);
    expect(await seriesValue(app.registry, "tarsd_influx_write_duration_seconds_count")).toBe(0);
  });
});

describe("the sink's answers", () => {
  const failing = (kind: "network" | "rejected"): Sink => ({
    describe: "failing",
    write: () => Promise.reject(new SinkError(kind, `the sink says ${kind}`)),
  });

  test("503 with Retry-After when the sink is unavailable (a retryable failure): Prometheus keeps the samples", async () => {
    const app = await serve({}, failing("network"));
    const res = await fetch(writeRequest(`${app.url}/api/v1/write`, series, { version: 2 }));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("x-prometheus-remote-write-samples-written")).toBe("0");
    expect(await res.json()).toEqual({ error: "sink unavailable, retry later: the sink says network", status: 503 });
    const value = (name: string, labels?: Record<string, string>) => seriesValue(app.registry, name, labels);
    expect(await value("tarsd_remote_write_requests_total", { status: "503" })).toBe(1);
    expect(await value("tarsd_influx_write_errors_total", { kind: "network" })).toBe(1);
    expect(await value("tarsd_influx_write_errors_total", { kind: "rejected" })).toBe(0);
    expect(await value("tarsd_remote_write_samples_written_total")).toBe(0);
    expect(await value("tarsd_influx_write_duration_seconds_count")).toBe(1);
  });

  test("400 when the sink refuses the data: retrying cannot help", async () => {
    const app = await serve({}, failing("rejected"));
    const res = await fetch(writeRequest(`${app.url}/api/v1/write`, series));
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe("sink rejected the data: the sink says rejected");
    expect(await seriesValue(app.registry, "tarsd_influx_write_errors_total", { kind: "rejected" })).toBe(1);
  });
});

test("a fresh registry holds every series of the function, the known label values at 0", async () => {
  const app = await serve();
  const value = (name: string, labels?: Record<string, string>) => seriesValue(app.registry, name, labels);
  for (const kind of ["rejected", "throttled", "server_error", "config", "timeout", "network", "io"]) {
    expect(await value("tarsd_influx_write_errors_total", { kind })).toBe(0);
  }
  for (
    const reason of [
      "stale",
      "nan",
      "inf",
      "missing_metric_name",
      "invalid_label_name",
      "duplicate_label",
      "label_conflict",
      "unencodable_label",
      "invalid_histogram",
    ]
  ) {
    expect(await value("tarsd_remote_write_samples_dropped_total", { reason })).toBe(0);
  }
  for (
    const name of [
      "tarsd_remote_write_samples_received_total",
      "tarsd_remote_write_samples_written_total",
      "tarsd_remote_write_histograms_written_total",
      "tarsd_remote_write_exemplars_written_total",
      "tarsd_remote_write_request_bytes_total",
      "tarsd_influx_write_duration_seconds_count",
    ]
  ) {
    expect(await value(name)).toBe(0);
  }
  // Nothing answered yet: no status has a series (it appears with its first answer).
  expect(parseMetrics(await app.registry.metrics()).filter((s) => s.name === "tarsd_remote_write_requests_total"))
    .toEqual([]);
});

test("REMOTE_WRITE_PATH: the route is served there and on /api/v1/prom/write, not on /api/v1/write", async () => {
  const app = await serve({ path: "/prometheus/write", influxBucket: "custom" });
  expect((await fetch(writeRequest(`${app.url}/prometheus/write`, series))).status).toBe(204);
  expect((await fetch(writeRequest(`${app.url}/api/v1/prom/write`, series))).status).toBe(204);
  expect((await fetch(writeRequest(`${app.url}/api/v1/write`, series))).status).toBe(404);
  expect(readFileSync(join(app.dataDir, "metrics", "custom.lp"), "utf8")).toBe(`${line}\n${line}\n`);
});

test("/openapi.json documents each route with the status table of lib/remote-write/statuses.ts", async () => {
  const app = await serve();
  type Doc = { paths: Record<string, { post: { responses: Record<string, { description: string }> } }> };
  const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as Doc;
  for (const path of ["/api/v1/write", "/api/v1/prom/write"]) {
    const { responses } = doc.paths[path]!.post;
    expect(Object.keys(responses).sort()).toEqual([...Object.keys(REMOTE_WRITE_STATUSES), "default"].sort());
    for (const [status, meaning] of Object.entries(REMOTE_WRITE_STATUSES)) {
      expect(responses[status]!.description).toBe(meaning);
    }
  }
});
