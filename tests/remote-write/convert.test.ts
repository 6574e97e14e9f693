import { describe, expect, test } from "bun:test";
import { DomainError } from "@tarsd/sdk";
import { toLineProtocol } from "../../lib/remote-write/convert.ts";
import { linesOf } from "./lines.ts";
import { parseMessage } from "../../lib/remote-write/decode.ts";
import type { HistogramSample, Metadata, Series } from "../../lib/remote-write/model.ts";
import { ByteWriter } from "../../lib/remote-write/byte-writer.ts";
import { writePlainPrefix } from "../../lib/remote-write/plain-prefix.ts";
import { encodeV1 } from "../../harness/remote-write-requests.ts";

const s = (labels: string[], ...samples: [number, number, boolean?][]): Series => ({
  labels,
  samples: samples.map(([value, timestamp, stale]) => ({ value, timestamp, stale: stale ?? false })),
  histograms: [],
  exemplars: [],
});
const v1 = { duplicateLabels: "skip" as const };

describe("mapping (InfluxDB 1.x /api/v1/prom/write shape)", () => {
  test("measurement = metric name, sorted tags = other labels, float field value, ms timestamp", () => {
    const out = toLineProtocol([
      s(["__name__", "job_instance:node_cpu_usage:percent", "job", "node", "instance", "vm1:9100"], [
        12.5,
        1_700_000_000_123,
      ], [3, 1_700_000_001_123]),
    ], v1);
    expect(linesOf(out)).toEqual([
      "job_instance:node_cpu_usage:percent,instance=vm1:9100,job=node value=12.5 1700000000123",
      "job_instance:node_cpu_usage:percent,instance=vm1:9100,job=node value=3 1700000001123",
    ]);
    expect(out.samplesReceived).toBe(2);
    expect(out.dropped).toEqual({});
  });

  test("values keep full precision and exponents", () => {
    const out = toLineProtocol([s(["__name__", "m"], [0.1 + 0.2, 1], [-1.5e-300, 2], [1e21, 3], [-0, 4])], v1);
    expect(linesOf(out).map((l) => l.split(" ")[1])).toEqual([
      "value=0.30000000000000004",
      "value=-1.5e-300",
      "value=1e+21",
      "value=0",
    ]);
  });

  test("a label named `value` stays a tag and does not clobber the field", () => {
    const out = toLineProtocol([s(["__name__", "m", "value", "label-value"], [42, 1])], v1);
    expect(linesOf(out)).toEqual(["m,value=label-value value=42 1"]);
  });

  test("empty label values are not tags", () => {
    expect(linesOf(toLineProtocol([s(["__name__", "m", "a", "", "b", "x"], [1, 1])], v1))).toEqual(["m,b=x value=1 1"]);
  });

  test("reserved keys time, _measurement, _field are renamed exported_<name>", () => {
    const out = toLineProtocol([s(["__name__", "m", "time", "t", "_measurement", "me", "_field", "f"], [1, 1])], v1);
    expect(linesOf(out)).toEqual(["m,exported__field=f,exported__measurement=me,exported_time=t value=1 1"]);
  });

  test("a series already carrying the renamed label is dropped (label_conflict)", () => {
    const out = toLineProtocol([
      s(["__name__", "m", "time", "t", "exported_time", "u"], [1, 1]),
      s(["__name__", "ok"], [1, 1]),
    ], v1);
    expect(linesOf(out)).toEqual(["ok value=1 1"]);
    expect(out.dropped).toEqual({ label_conflict: 1 });
  });
});

describe("escaping (the client's Point)", () => {
  test("commas, spaces and equals signs in names and values", () => {
    const out = toLineProtocol([s(["__name__", "my metric,x=y", "tag key,=", "a value, with=stuff"], [1, 1])], v1);
    expect(linesOf(out)).toEqual(["my\\ metric\\,x=y,tag\\ key\\,\\==a\\ value\\,\\ with\\=stuff value=1 1"]);
  });

  test("quotes, unicode and inner backslashes pass through unchanged", () => {
    const out = toLineProtocol([s(["__name__", "m", "path", 'C:\\Temp\\"x"', "emoji", "héllo 😀"], [1, 1])], v1);
    expect(linesOf(out)).toEqual(['m,emoji=héllo\\ 😀,path=C:\\Temp\\"x" value=1 1']);
  });

  test("newlines and tabs are escaped so one label cannot split a line", () => {
    const out = toLineProtocol([s(["__name__", "m", "msg", "a\nb\tc\rd"], [1, 1])], v1);
    expect(linesOf(out)).toHaveLength(1);
    expect(linesOf(out)[0]).toBe("m,msg=a\\nb\\tc\\rd value=1 1");
    expect(linesOf(out)[0]).not.toContain("\n");
  });

  test("a trailing backslash, or one before an escaped separator, drops the series (unencodable_label)", () => {
    const out = toLineProtocol(
      [
        s(["__name__", "m", "mount", "C:\\"], [1, 1], [2, 2]),
        s(["__name__", "m", "k", "a\\,b"], [1, 1]),
        s(["__name__", "m", "k", "a\\ b"], [1, 1]),
        s(["__name__", "m", "k\\", "v"], [1, 1]),
        s(["__name__", "m\\"], [1, 1]),
        s(["__name__", "m", "mount", "C:\\x"], [3, 3]),
      ],
      v1,
    );
    expect(linesOf(out)).toEqual(["m,mount=C:\\x value=3 3"]);
    expect(out.dropped).toEqual({ unencodable_label: 6 });
  });
});

describe("values InfluxDB cannot store", () => {
  test("stale markers, NaN and ±Inf are dropped by reason; finite samples in the same request land", () => {
    const out = toLineProtocol(
      [
        s(["__name__", "a"], [NaN, 1, true], [1, 2], [NaN, 3], [Infinity, 4], [-Infinity, 5], [2, 6]),
        s(["__name__", "b"], [NaN, 1, true]),
        s(["__name__", "c"], [7, 1]),
      ],
      v1,
    );
    expect(linesOf(out)).toEqual(["a value=1 2", "a value=2 6", "c value=7 1"]);
    expect(out.samplesReceived).toBe(8);
    expect(out.dropped).toEqual({ stale: 2, nan: 1, inf: 2 });
  });
});

describe("invalid series", () => {
  test("duplicate label names: series skipped in 1.0", () => {
    const out = toLineProtocol([s(["__name__", "m", "a", "1", "a", "2"], [1, 1]), s(["__name__", "n"], [1, 1])], v1);
    expect(linesOf(out)).toEqual(["n value=1 1"]);
    expect(out.dropped).toEqual({ duplicate_label: 1 });
  });

  test("duplicate label names: malformed (400) in 2.0", () => {
    let error: unknown;
    try {
      toLineProtocol([s(["__name__", "m", "a", "1", "a", "2"], [1, 1])], { duplicateLabels: "reject" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe("malformed");
    expect((error as DomainError).message).toContain('duplicate label name "a"');
  });

  test("an empty label name drops the series; a missing metric name refuses it (nothing of it written)", () => {
    const out = toLineProtocol([
      s(["job", "x"], [1, 1]),
      s(["__name__", ""], [1, 1], [2, 2]),
      s(["__name__", "m", "", "v"], [1, 1]),
      s(["__name__", "ok"], [1, 1]),
    ], v1);
    expect(linesOf(out)).toEqual(["ok value=1 1"]);
    expect(out.dropped).toEqual({ invalid_label_name: 1 });
    expect(out.nameless).toEqual({ series: 2, samples: 3, histograms: 0, exemplars: 0, metadata: 0 });
  });
});

const histogram = (overrides: Partial<HistogramSample> = {}): HistogramSample => ({
  timestamp: 1_700_000_000_000,
  float: false,
  count: 6,
  sum: 7.5,
  schema: 0,
  zeroThreshold: 0.001,
  zeroCount: 1,
  resetHint: "no",
  negativeSpans: [],
  negative: [],
  positiveSpans: [{ offset: 0, length: 2 }],
  positive: [2, 3],
  customValues: [],
  ...overrides,
});

describe("native histograms, exemplars and metadata", () => {
  test("a histogram: one point with count, sum, schema, zero bucket and reset hint; cumulative buckets by le", () => {
    const out = toLineProtocol([
      { labels: ["__name__", "rpc_seconds", "job", "api"], samples: [], histograms: [histogram()], exemplars: [] },
    ], v1);
    expect(linesOf(out)).toEqual([
      'rpc_seconds,job=api count=6,counter_reset_hint="no",schema=0,sum=7.5,zero_count=1,zero_threshold=0.001 1700000000000',
      "rpc_seconds_bucket,job=api,le=0.001 value=1 1700000000000",
      "rpc_seconds_bucket,job=api,le=1 value=3 1700000000000",
      "rpc_seconds_bucket,job=api,le=2 value=6 1700000000000",
      "rpc_seconds_bucket,job=api,le=+Inf value=6 1700000000000",
    ]);
    expect(out.histogramsWritten).toBe(1);
  });

  test("le takes its sorted place among the tags; a NaN sum is left out; a series with its own le is dropped", () => {
    const out = toLineProtocol([
      {
        labels: ["__name__", "h", "a", "1", "z", "2"],
        samples: [],
        histograms: [histogram({ sum: NaN, positive: [1, 1], count: 2, zeroCount: 0 })],
        exemplars: [],
      },
      { labels: ["__name__", "h", "le", "1"], samples: [], histograms: [histogram()], exemplars: [] },
    ], v1);
    expect(linesOf(out)).toEqual([
      'h,a=1,z=2 count=2,counter_reset_hint="no",schema=0,zero_count=0,zero_threshold=0.001 1700000000000',
      "h_bucket,a=1,le=1,z=2 value=1 1700000000000",
      "h_bucket,a=1,le=2,z=2 value=2 1700000000000",
      "h_bucket,a=1,le=+Inf,z=2 value=2 1700000000000",
    ]);
    expect(out.dropped).toEqual({ label_conflict: 1 });
  });

  test("a histogram Prometheus would refuse is refused alone: the series' other samples and histograms, the other series written", () => {
    const bad = [
      histogram({ positive: [1] }), // spans name 2 buckets
      histogram({ schema: 9 }),
      histogram({ count: -1, float: true }),
      histogram({ positive: [2, -1] }), // an integer bucket count below 0
      histogram({ count: 5 }), // 6 observations in its buckets
    ];
    const out = toLineProtocol([
      { ...s(["__name__", "h", "job", "api"], [1, 1]), histograms: [histogram({ timestamp: 5 }), ...bad] },
      { labels: ["__name__", "g", "a", ""], samples: [], histograms: [histogram({ count: 7 })], exemplars: [] },
      { ...s(["__name__", "ok"], [2, 2]) },
    ], v1);
    expect(linesOf(out).filter((l) => !l.startsWith("h_bucket"))).toEqual([
      "h,job=api value=1 1",
      'h,job=api count=6,counter_reset_hint="no",schema=0,sum=7.5,zero_count=1,zero_threshold=0.001 5',
      "ok value=2 2",
    ]);
    expect(out.histogramsWritten).toBe(1);
    expect(out.dropped).toEqual({});
    expect(out.invalidHistograms).toEqual({
      series: 2,
      histograms: 6,
      first: [
        'h{job="api"}: positive spans name 2 buckets, 1 counts given',
        "g{}: histogram count 7 > 6 observations in its buckets, with a sum that is not NaN " +
        "(only NaN observations are counted outside the buckets, and they make the sum NaN)",
      ],
    });
  });

  test("histogram count against its buckets, as Prometheus' Validate: integer histograms only, NaN sum a lower bound", () => {
    const verdict = (h: HistogramSample) => {
      const out = toLineProtocol([{ labels: ["__name__", "h"], samples: [], histograms: [h], exemplars: [] }], v1);
      return out.histogramsWritten === 1 ? "written" : out.invalidHistograms.first[0];
    };
    // 1 in the zero bucket, 2 + 3 in the positive ones: 6 observations in the buckets.
    expect(verdict(histogram({ count: 3 }))).toBe("h{}: histogram count 3 < 6 observations in its buckets");
    expect(verdict(histogram({ count: 3, sum: NaN }))).toBe("h{}: histogram count 3 < 6 observations in its buckets");
    expect(verdict(histogram({ count: 8, sum: NaN }))).toBe("written"); // 2 NaN observations
    expect(verdict(histogram({ count: 8 }))).toContain("h{}: histogram count 8 > 6 observations in its buckets");
    expect(verdict(histogram({ count: 6 }))).toBe("written");
    expect(verdict(histogram({ count: 3, float: true }))).toBe("written"); // Prometheus checks no float count
    expect(verdict(histogram({ count: 8, float: true }))).toBe("written");
  });

  test("refused series are named in full up to a bound, the first few of them only", () => {
    const long = "x".repeat(500);
    const out = toLineProtocol(
      Array.from({ length: 10 }, (_, i) => ({
        labels: ["__name__", `h${i}`, "trace", long],
        samples: [],
        histograms: [histogram({ count: 1 }), histogram({ count: 2 })],
        exemplars: [],
      })),
      v1,
    );
    expect(out.invalidHistograms.series).toBe(10);
    expect(out.invalidHistograms.histograms).toBe(20);
    expect(out.invalidHistograms.first).toHaveLength(3);
    expect(out.invalidHistograms.first[0]).toStartWith('h0{trace="xxx');
    expect(out.invalidHistograms.first[0]).toEndWith("…: histogram count 1 < 6 observations in its buckets");
    expect(out.invalidHistograms.first[0]!.length).toBeLessThan(300);
  });

  test("exemplars: beside their series, value and labels as fields (never tags), their own timestamp", () => {
    const out = toLineProtocol([{
      ...s(["__name__", "http_requests_total", "code", "200"], [41, 1_000]),
      exemplars: [
        { labels: ["trace_id", "4bf92f35", "span_id", "00f0 67aa"], value: 1, timestamp: 990 },
        { labels: ["trace_id", 'q"uote'], value: 2, timestamp: 0 }, // no timestamp: the series' own
      ],
    }], v1);
    expect(linesOf(out)).toEqual([
      "http_requests_total,code=200 value=41 1000",
      'http_requests_total,code=200 exemplar=1,exemplar_span_id="00f0 67aa",exemplar_trace_id="4bf92f35" 990',
      'http_requests_total,code=200 exemplar=2,exemplar_trace_id="q\\"uote" 1000',
    ]);
    expect(out.exemplarsWritten).toBe(2);
    expect(out.exemplarsReceived).toBe(2);
  });

  test("exemplars at ±Inf and NaN are stored (as Prometheus does) in the string field exemplar.value", () => {
    const out = toLineProtocol([{
      ...s(["__name__", "latency_seconds", "job", "api"]),
      exemplars: [
        { labels: ["trace_id", "a1", "value", "label named value"], value: Infinity, timestamp: 5 },
        { labels: ["trace_id", "b2"], value: -Infinity, timestamp: 6 },
        { labels: [], value: NaN, timestamp: 7 },
      ],
    }], v1);
    expect(linesOf(out)).toEqual([
      'latency_seconds,job=api exemplar.value="+Inf",exemplar_trace_id="a1",exemplar_value="label named value" 5',
      'latency_seconds,job=api exemplar.value="-Inf",exemplar_trace_id="b2" 6',
      'latency_seconds,job=api exemplar.value="NaN" 7',
    ]);
    expect(out.exemplarsWritten).toBe(3);
    expect(out.exemplarsReceived).toBe(3);
  });

  test("metadata: prometheus_metadata tagged by metric, once per metric; 1.0 family metadata too", () => {
    const gauge: Metadata = { type: "gauge", help: 'Temperature, in "degrees".', unit: "celsius" };
    const out = toLineProtocol({
      series: [
        { ...s(["__name__", "temp", "room", "a"], [20, 1_000]), metadata: gauge },
        { ...s(["__name__", "temp", "room", "b"], [21, 2_000]), metadata: gauge },
      ],
      metadata: [{ metricFamilyName: "up", type: "gauge", help: "", unit: "" }, {
        metricFamilyName: "",
        type: "counter",
        help: "orphan",
        unit: "",
      }],
    }, v1);
    const lines = linesOf(out);
    expect(lines.slice(0, 3)).toEqual([
      "temp,room=a value=20 1000",
      "temp,room=b value=21 2000",
      'prometheus_metadata,metric=temp help="Temperature, in \\"degrees\\".",type="gauge",unit="celsius" 2000',
    ]);
    expect(lines[3]).toMatch(/^prometheus_metadata,metric=up type="gauge" \d+$/);
    expect(out.metadataWritten).toBe(2);
    expect(out.nameless.metadata).toBe(1);
  });
});

describe("same bytes as the client's Point", () => {
  // The converter builds each series' prefix once with escape.measurement / escape.tag (what Point
  // calls); this checks the result equals Point.toLineProtocol on random, nasty labels.
  test("random labels with separators, quotes, newlines, unicode and reserved names", async () => {
    const { Point } = await import("@influxdata/influxdb-client");
    const alphabet = [
      "a",
      "b",
      "Z",
      "_",
      ":",
      ",",
      " ",
      "=",
      '"',
      "\n",
      "\t",
      "\r",
      "é",
      "😀",
      "\\x",
      "time",
      "value",
      "0",
    ];
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const word = () => Array.from({ length: 1 + random(6) }, () => alphabet[random(alphabet.length)]).join("");
    let compared = 0;
    for (let i = 0; i < 2000; i++) {
      const labels = ["__name__", word()];
      const names = new Set<string>();
      for (let j = random(5); j > 0; j--) names.add(random(4) === 0 ? ["time", "value", "_field"][random(3)]! : word());
      for (const name of names) labels.push(name, random(5) === 0 ? "" : word());
      const value = random(2) ? random(1e6) / 7 : -random(1000);
      const out = toLineProtocol([s(labels, [value, 1_700_000_000_000 + i])], v1);
      if (out.written === 0) continue; // dropped by the documented scheme (unencodable, conflict)
      const point = new Point(labels[1]!);
      for (let j = 2; j < labels.length; j += 2) {
        const name = labels[j]!;
        point.tag(["time", "_measurement", "_field"].includes(name) ? `exported_${name}` : name, labels[j + 1]!);
      }
      point.floatField("value", value).timestamp(1_700_000_000_000 + i);
      expect(linesOf(out)[0]).toBe(point.toLineProtocol({ convertTime: (t: unknown) => String(t) } as never)!);
      compared++;
    }
    expect(compared).toBeGreaterThan(1000);
  });

  test("a series' prefix copied from the request's bytes equals the general path's, or falls back to it", () => {
    // Mostly what Prometheus sends (ASCII, sorted names); sometimes unsorted, reserved, empty or to escape.
    const alphabet = ["a", "b", "c", "A", "Z", "_", ":", "0", "9", ",", " ", "=", "\\", "time", "é"];
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed >>> 8) % n; // the low bits of this generator repeat with a short period
    };
    const word = () =>
      Array.from({ length: 1 + random(5) }, () => alphabet[random(random(12) === 0 ? alphabet.length : 9)]).join("");
    // 0-3 samples, some of them not storable: the prefix is repeated per line, or written not at all.
    const samples = () =>
      Array.from({ length: random(4) }, (_, k) => ({
        value: random(5) === 0 ? Number.NaN : random(1000) / 8,
        timestamp: 5 + k,
      }));
    let viaBytes = 0;
    let repeated = 0;
    const writer = new ByteWriter(64); // reused, and grown, as a receiver's is
    for (let i = 0; i < 3000; i++) {
      const pairs = new Map<string, string>([["__name__", random(20) === 0 ? "" : word()]]);
      for (let j = random(6); j > 0; j--) pairs.set(word(), random(6) === 0 ? "" : word());
      const entries = [...pairs];
      if (random(4) !== 0) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const labels = entries.flat();
      const sent = [samples(), samples()];
      const parsed = parseMessage(
        encodeV1(sent.map((samples, k) => ({ labels: k ? [["__name__", "other"]] : entries, samples }))),
        1,
      ).series;
      const general = toLineProtocol(
        parsed.map((one) => ({ ...one, labels: [...one.labels], labelBytes: undefined })),
        v1,
      );
      const fromBytes = toLineProtocol(parsed, v1, writer);
      expect({ labels, lines: linesOf(fromBytes), dropped: fromBytes.dropped, nameless: fromBytes.nameless }).toEqual({
        labels,
        lines: linesOf(general),
        dropped: general.dropped,
        nameless: general.nameless,
      });
      const copied = parsed[0]!.labelBytes &&
        writePlainPrefix(parsed[0]!.labelBytes, new ByteWriter(), new Uint8Array(0));
      if (copied && sent[0]!.length > 0) viaBytes++;
      if (sent[0]!.filter((x) => !Number.isNaN(x.value)).length > 1) repeated++;
    }
    expect(viaBytes).toBeGreaterThan(500);
    expect(repeated).toBeGreaterThan(500);
  });
});
