// A scrape target that exposes what Prometheus 3 ingests beyond floats: native histograms (integer
// counts and a float gauge histogram, negative, zero and positive buckets), a classic histogram, and
// exemplars on counters, native histograms and a classic bucket. Served in Prometheus' protobuf
// exposition format (the only one Prometheus scrapes native histograms from), encoded by protobufjs
// from client_model's own metrics.proto (tests/fixtures/remote-write/prometheus3/metrics.proto). Every
// scrape observes new values and attaches new exemplars, each with its own timestamp (Prometheus 3
// drops exemplars of native histograms that have none), strictly increasing per series.
import protobuf from "protobufjs";
import { join } from "node:path";
import { REPO_ROOT } from "./binaries.ts";

export const EXPOSITION_PROTO = join(REPO_ROOT, "tests", "fixtures", "remote-write", "prometheus3", "metrics.proto");
export const PROTOBUF_CONTENT_TYPE =
  "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/** The metric names, by how Prometheus stores them (a test counts the sink's points by these). */
export const TARGET_METRICS = {
  counter: "tarsd_p3_requests_total",
  gauge: "tarsd_p3_temperature_celsius",
  /** Native histogram, integer counts, counter type: two series (route a, b). */
  nativeHistogram: "tarsd_p3_request_duration_seconds",
  /** Native histogram, float counts, gauge type: one series. */
  gaugeHistogram: "tarsd_p3_queue_fill_ratio",
  /** Classic histogram: `_bucket`, `_sum`, `_count` float series. */
  classicHistogram: "tarsd_p3_payload_bytes",
} as const;

export interface ExpositionTarget {
  url: string;
  /** Scrapes answered so far, and when the last one was (ms). */
  scrapes(): { count: number; lastAt: number };
  stop(): Promise<void>;
}

interface Span {
  offset: number;
  length: number;
}

/** Native histogram buckets of schema `schema`: index -> count, for the values given. */
function nativeBuckets(values: number[], schema: number, zeroThreshold: number) {
  const positive = new Map<number, number>();
  const negative = new Map<number, number>();
  let zero = 0;
  for (const v of values) {
    if (Math.abs(v) <= zeroThreshold) zero++;
    else {
      // Bucket i holds (2^((i-1)/2^schema), 2^(i/2^schema)].
      const index = Math.ceil(Math.log2(Math.abs(v)) * 2 ** schema);
      const side = v > 0 ? positive : negative;
      side.set(index, (side.get(index) ?? 0) + 1);
    }
  }
  return { positive: spansOf(positive), negative: spansOf(negative), zero };
}

/** Spans and the counts in index order (gaps of one or two empty buckets are spanned, as client_golang does). */
function spansOf(buckets: Map<number, number>): { spans: Span[]; counts: number[] } {
  const indexes = [...buckets.keys()].sort((a, b) => a - b);
  const spans: Span[] = [];
  const counts: number[] = [];
  let next = 0;
  for (const index of indexes) {
    const gap = index - next;
    if (spans.length > 0 && gap <= 2) {
      for (let i = 0; i < gap; i++) counts.push(0);
      spans[spans.length - 1]!.length += gap + 1;
    } else spans.push({ offset: spans.length === 0 ? index : gap, length: 1 });
    counts.push(buckets.get(index)!);
    next = index + 1;
  }
  return { spans, counts };
}

const deltas = (counts: number[]) => counts.map((c, i) => c - (i === 0 ? 0 : counts[i - 1]!));

const timestamp = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

/** Starts the target on 127.0.0.1 at a port the kernel picks. */
export function startExpositionTarget(): ExpositionTarget {
  const root = protobuf.loadSync(EXPOSITION_PROTO);
  const MetricFamily = root.lookupType("io.prometheus.client.MetricFamily");
  const type = root.lookupEnum("io.prometheus.client.MetricType").values;

  let scrapes = 0;
  let lastAt = 0;
  let traces = 0;
  const lastExemplarAt = new Map<string, number>();
  /** A new exemplar of `series`, later than its previous one. */
  const exemplar = (series: string, value: number) => {
    const at = Math.max(Date.now(), (lastExemplarAt.get(series) ?? 0) + 1);
    lastExemplarAt.set(series, at);
    traces++;
    return {
      label: [{ name: "trace_id", value: traces.toString(16).padStart(16, "0") }],
      value,
      timestamp: timestamp(at),
    };
  };

  // Cumulative state: what has been observed so far.
  const requests: Record<string, number> = { a: 0, b: 0 };
  const durations: Record<string, number[]> = { a: [], b: [] };
  const payloads: number[] = [];
  const PAYLOAD_BOUNDS = [100, 1_000, 10_000, 100_000];

  const observe = (n: number) => {
    for (let i = 0; i < 3; i++) {
      requests.a! += 1;
      requests.b! += 2;
      // Durations from 0 (the zero bucket) to a few seconds; negative values as clock-skew offsets.
      durations.a!.push([0, 0.0004, 0.003, 0.012, 0.25, 1.7][(n + i) % 6]!);
      durations.b!.push([-0.02, 0.0009, 0.04, 0.08, 3.1][(n + i) % 5]!);
      payloads.push([42, 512, 5_000, 250_000][(n + i) % 4]!);
    }
  };

  const families = (n: number) => {
    const route = (r: string) => [{ name: "route", value: r }];
    const native = (r: string) => {
      const values = durations[r]!;
      const b = nativeBuckets(values, 3, 0.001);
      return {
        label: route(r),
        histogram: {
          sampleCount: values.length,
          sampleSum: values.reduce((s, v) => s + v, 0),
          schema: 3,
          zeroThreshold: 0.001,
          zeroCount: b.zero,
          positiveSpan: b.positive.spans,
          positiveDelta: deltas(b.positive.counts),
          negativeSpan: b.negative.spans,
          negativeDelta: deltas(b.negative.counts),
          exemplars: [exemplar(`duration/${r}`, values[values.length - 1]!)],
        },
      };
    };
    // A gauge histogram of float counts that goes up and down (a fill ratio, sampled 1.5 times a tick).
    const fill = Array.from({ length: 4 + (n % 3) }, (_, i) => ((n + i) % 10) / 10 + 0.05);
    const fb = nativeBuckets(fill, 1, 0);
    const payloadBuckets = PAYLOAD_BOUNDS.map((bound, i) => ({
      cumulativeCount: payloads.filter((p) => p <= bound).length,
      upperBound: bound,
      ...(i === 1 ? { exemplar: exemplar("payload/1000", 512) } : {}),
    }));
    return [
      {
        name: TARGET_METRICS.counter,
        help: "Requests served.",
        type: type.COUNTER,
        metric: ["a", "b"].map((r) => ({
          label: route(r),
          counter: { value: requests[r], exemplar: exemplar(`requests/${r}`, 1) },
        })),
      },
      {
        name: TARGET_METRICS.gauge,
        help: "A temperature.",
        type: type.GAUGE,
        unit: "celsius",
        metric: [{ gauge: { value: 20 + (n % 7) / 4 } }],
      },
      {
        name: TARGET_METRICS.nativeHistogram,
        help: "Request durations, and clock-skew offsets below zero.",
        type: type.HISTOGRAM,
        metric: ["a", "b"].map(native),
      },
      {
        name: TARGET_METRICS.gaugeHistogram,
        help: "Queue fill ratios.",
        type: type.GAUGE_HISTOGRAM,
        metric: [{
          histogram: {
            sampleCountFloat: fill.length * 1.5,
            sampleSum: fill.reduce((s, v) => s + v, 0) * 1.5,
            schema: 1,
            zeroThreshold: 0,
            zeroCountFloat: fb.zero * 1.5,
            positiveSpan: fb.positive.spans,
            positiveCount: fb.positive.counts.map((c) => c * 1.5),
          },
        }],
      },
      {
        name: TARGET_METRICS.classicHistogram,
        help: "Payload sizes.",
        type: type.HISTOGRAM,
        metric: [{
          histogram: {
            sampleCount: payloads.length,
            sampleSum: payloads.reduce((s, v) => s + v, 0),
            bucket: payloadBuckets,
          },
        }],
      },
    ];
  };

  observe(0);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      if (new URL(req.url).pathname !== "/metrics") return new Response("not found", { status: 404 });
      const n = ++scrapes;
      observe(n);
      const parts = families(n).map((f) => MetricFamily.encodeDelimited(MetricFamily.fromObject(f)).finish());
      const body = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
      let at = 0;
      for (const p of parts) {
        body.set(p, at);
        at += p.length;
      }
      lastAt = Date.now();
      return new Response(body, { headers: { "content-type": PROTOBUF_CONTENT_TYPE } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    scrapes: () => ({ count: scrapes, lastAt }),
    stop: () => server.stop(true),
  };
}
