import { describe, expect, test } from "bun:test";
import { DomainError, FAILURE_STATUS } from "@tarsd/sdk";
import { decodeBody, decompress, negotiate, parseMessage, snappyDecodedLength } from "../../lib/remote-write/decode.ts";
import type { Series } from "../../lib/remote-write/model.ts";
import { writeRequestV2 } from "../../harness/remote-write-schema.ts";
import { compress, encodeV1, encodeV2, STALE } from "../../harness/remote-write-requests.ts";

function status(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    // The decoder throws domain failures; the status is what the host's one table makes of them.
    if (err instanceof DomainError) return FAILURE_STATUS[err.kind].status;
    throw err;
  }
  return undefined;
}

describe("content negotiation", () => {
  const h = (headers: { "content-type"?: string; "content-encoding"?: string }) =>
    negotiate(headers["content-type"] ?? null, headers["content-encoding"] ?? null);
  test("1.0 by default, by bare media type and by proto=prometheus.WriteRequest", () => {
    expect(h({})).toBe(1);
    expect(h({ "content-type": "", "content-encoding": " " })).toBe(1);
    expect(h({ "content-type": "application/x-protobuf", "content-encoding": "snappy" })).toBe(1);
    expect(h({ "content-type": "application/x-protobuf; proto=prometheus.WriteRequest" })).toBe(1);
  });
  test("2.0 by proto=io.prometheus.write.v2.Request", () => {
    expect(h({ "content-type": "application/x-protobuf;proto=io.prometheus.write.v2.Request" })).toBe(2);
    expect(h({ "content-type": 'Application/X-Protobuf; Proto="io.prometheus.write.v2.Request"' })).toBe(2);
  });
  test("unsupported media type, proto message or encoding: 415", () => {
    expect(status(() => h({ "content-type": "application/json" }))).toBe(415);
    expect(status(() => h({ "content-type": "image/png" }))).toBe(415);
    expect(status(() => h({ "content-type": "application/x-protobuf;proto=io.prometheus.write.v3.Request" }))).toBe(
      415,
    );
    expect(status(() => h({ "content-type": "application/x-protobuf", "content-encoding": "gzip" }))).toBe(415);
    expect(status(() => h({ "content-type": "application/x-protobuf", "content-encoding": "deflate" }))).toBe(415);
  });
});

/** What a series says, without the receiver's memo of its label set (1.0 only) and 2.0's metadata. */
const said = (series: Series[]) =>
  series.map(({ labels, samples, histograms, exemplars }) => ({ labels: [...labels], samples, histograms, exemplars }));
const seriesOf = (message: Uint8Array, version: 1 | 2) => parseMessage(message, version).series;

describe("remote write 1.0 decoding", () => {
  test("labels, values and millisecond timestamps survive", () => {
    const series = seriesOf(
      encodeV1([
        {
          labels: [["__name__", "up"], ["job", "node"]],
          samples: [{ value: 1, timestamp: 1_700_000_000_123 }, { value: -2.5, timestamp: 1_700_000_001_123 }],
        },
        { labels: [["__name__", "temp"], ["ünïcode", "😀 ,= \\"]], samples: [{ value: 1e-300, timestamp: 0 }] },
      ]),
      1,
    );
    expect(said(series)).toEqual([
      {
        labels: ["__name__", "up", "job", "node"],
        samples: [{ value: 1, timestamp: 1_700_000_000_123, stale: false }, {
          value: -2.5,
          timestamp: 1_700_000_001_123,
          stale: false,
        }],
        histograms: [],
        exemplars: [],
      },
      {
        labels: ["__name__", "temp", "ünïcode", "😀 ,= \\"],
        samples: [{ value: 1e-300, timestamp: 0, stale: false }],
        histograms: [],
        exemplars: [],
      },
    ]);
  });

  test("the staleness marker is recognised from its raw bits, an ordinary NaN is not stale", () => {
    const [series] = seriesOf(
      encodeV1([{
        labels: [["__name__", "x"]],
        samples: [{ value: STALE, timestamp: 5 }, { value: NaN, timestamp: 6 }, { value: Infinity, timestamp: 7 }],
      }]),
      1,
    );
    expect(series!.samples.map((s) => s.stale)).toEqual([true, false, false]);
    expect(Number.isNaN(series!.samples[0]!.value)).toBe(true);
    expect(Number.isNaN(series!.samples[1]!.value)).toBe(true);
    expect(series!.samples[2]!.value).toBe(Infinity);
  });

  test("negative and large timestamps decode exactly", () => {
    const [series] = seriesOf(
      encodeV1([{
        labels: [["__name__", "x"]],
        samples: [{ value: 1, timestamp: -5 }, { value: 1, timestamp: 2 ** 52 + 1 }],
      }]),
      1,
    );
    expect(series!.samples.map((s) => s.timestamp)).toEqual([-5, 2 ** 52 + 1]);
  });

  test("histograms and exemplars are decoded beside the samples", () => {
    const series = seriesOf(encodeV1([{ labels: [["__name__", "h"]], histograms: 2, exemplars: 3 }]), 1);
    const histogram = (timestamp: number) => ({
      timestamp,
      float: false,
      count: 3,
      sum: 1.5,
      schema: 0,
      zeroThreshold: 0,
      zeroCount: 0,
      resetHint: "unknown" as const,
      negativeSpans: [],
      negative: [],
      positiveSpans: [{ offset: -1, length: 1 }],
      positive: [3],
      customValues: [],
    });
    expect(said(series)).toEqual([{
      labels: ["__name__", "h"],
      samples: [],
      histograms: [histogram(1000), histogram(1001)],
      exemplars: [0, 1, 2].map((i) => ({ labels: ["trace_id", `t${i}`], value: 1, timestamp: 1 + i })),
    }]);
  });

  test("truncated or garbage protobuf is a 400", () => {
    const good = encodeV1([{ labels: [["__name__", "up"]], samples: [{ value: 1, timestamp: 1 }] }]);
    expect(status(() => parseMessage(good.subarray(0, good.length - 3), 1))).toBe(400);
    expect(status(() => parseMessage(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]), 1))).toBe(400);
    expect(status(() => parseMessage(new Uint8Array([0x0f]), 1))).toBe(400); // wire type 7 does not exist
    // A tag is a varint of at most 5 bytes (found by bench/wire-fuzz.ts: a 6-byte one was taken)
    expect(status(() => parseMessage(new Uint8Array([0xa2, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00]), 2))).toBe(400);
  });
});

describe("remote write 2.0 decoding", () => {
  test("symbols and label refs resolve to the same series as 1.0", () => {
    const input = [
      {
        labels: [["__name__", "job_instance:node_cpu_usage:percent"], ["instance", "vm1:9100"], ["job", "node"]] as [
          string,
          string,
        ][],
        samples: [{ value: 12.5, timestamp: 1_700_000_000_000 }],
        exemplars: 1,
      },
      {
        labels: [["__name__", "up"], ["job", "node"]] as [string, string][],
        samples: [{ value: STALE, timestamp: 1_700_000_000_000 }],
        histograms: 1,
      },
    ];
    const v1 = seriesOf(encodeV1(input), 1);
    const v2 = seriesOf(encodeV2(input), 2);
    expect(said(v2)).toEqual(said(v1));
    expect(v2[1]!.samples[0]!.stale).toBe(true);
  });

  test("the start timestamp decodes both ways: per sample/histogram (Prometheus >= 3.8) or per series (before)", () => {
    const type = writeRequestV2();
    const encode = (series: Record<string, unknown>) =>
      type.encode(type.fromObject({ symbols: ["", "__name__", "requests_total"], timeseries: [series] })).finish();
    const newer = encode({
      labelsRefs: [1, 2],
      samples: [{ value: 5, timestamp: 2_000, startTimestamp: 1_000 }],
      histograms: [{ countInt: 1, sum: 1, timestamp: 2_000, startTimestamp: 1_000 }],
    });
    const older = encode({
      labelsRefs: [1, 2],
      samples: [{ value: 5, timestamp: 2_000 }],
      histograms: [{ countInt: 1, sum: 1, timestamp: 2_000 }],
      createdTimestamp: 1_000,
    });
    expect(seriesOf(newer, 2)).toEqual(seriesOf(older, 2));
    expect(seriesOf(newer, 2)[0]!.samples).toEqual([{ value: 5, timestamp: 2_000, stale: false }]);
  });

  test("a label ref outside the symbols table is a 400", () => {
    // Request{symbols:[""], timeseries:[{labels_refs:[0, 7]}]}
    const message = new Uint8Array([0x22, 0x00, 0x2a, 0x04, 0x0a, 0x02, 0x00, 0x07]);
    expect(status(() => parseMessage(message, 2))).toBe(400);
  });

  test("a 1.0 message read as 2.0 is empty (fields 1-3 are reserved), not misread", () => {
    expect(seriesOf(encodeV1([{ labels: [["__name__", "up"]], samples: [{ value: 1, timestamp: 1 }] }]), 2))
      .toEqual([]);
  });
});

describe("snappy and size limits", () => {
  test("the announced length is read from the snappy header", () => {
    const message = new Uint8Array(300).fill(7);
    expect(snappyDecodedLength(compress(message))).toBe(300);
    expect(decompress(compress(message), 300)).toEqual(message);
  });

  test("a header announcing more than the limit is a 413 before any decompression", () => {
    // 5 bytes of header claiming 4 GiB - 1, followed by nothing: decompressing would fail (400),
    // so a 413 proves the check ran first.
    expect(status(() => decompress(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), 1 << 20))).toBe(413);
    expect(status(() => decompress(compress(new Uint8Array(2000)), 1999))).toBe(413);
  });

  test("corrupt snappy is a 400", () => {
    const block = compress(new TextEncoder().encode("hello hello hello hello hello"));
    block[0] = 0x30; // what the compliance suite does: claim 48 bytes that are not there
    expect(status(() => decompress(block, 1 << 20))).toBe(400);
    expect(status(() => decompress(new Uint8Array([]), 1 << 20))).toBe(400);
    expect(status(() => decompress(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 1 << 20))).toBe(400);
  });

  test("decodeBody: the announced size within the limit, then the message of the negotiated version", () => {
    const body = compress(encodeV2([{ labels: [["__name__", "up"]], samples: [{ value: 1, timestamp: 2 }] }]));
    const parsed = decodeBody(body, 2, { maxDecodedBytes: 1 << 20 });
    expect(parsed.series[0]!.labels).toEqual(["__name__", "up"]);
    expect(parsed.series[0]!.samples).toEqual([{ value: 1, timestamp: 2, stale: false }]);
    expect(status(() => decodeBody(body, 2, { maxDecodedBytes: 4 }))).toBe(413);
    expect(status(() => decodeBody(body.subarray(0, body.length - 2), 2, { maxDecodedBytes: 1 << 20 }))).toBe(400);
  });
});
