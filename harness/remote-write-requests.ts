// Builds remote-write requests the way a sender does: protobufjs reflection over the repo's .proto
// files (not the receiver's hand-written decoder), then snappy block compression.
import snappy from "snappy";
import { CONTENT_TYPE_V1, CONTENT_TYPE_V2, writeRequestV1, writeRequestV2 } from "./remote-write-schema.ts";

const STALE_NAN_BITS = [0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f]; // 0x7ff0000000000002, little endian
/** A value no test uses otherwise; replaced by the raw staleness-marker bytes after encoding. */
export const STALE = 7.291122019556398e-304;

export interface TestSeries {
  labels: [string, string][];
  samples?: { value: number; timestamp: number }[];
  /** How many of the default histogram (below), or the Histogram messages as protobufjs objects (countInt, ...). */
  histograms?: number | Record<string, unknown>[];
  /** How many exemplars (`trace_id` t0, t1, ..., value 1, at 1, 2, ...), or these. */
  exemplars?: number | TestExemplar[];
}

export interface TestExemplar {
  labels: [string, string][];
  value: number;
  timestamp: number;
}

const histogramsOf = (s: TestSeries) =>
  typeof s.histograms === "object"
    ? s.histograms
    : Array.from({ length: s.histograms ?? 0 }, (_, i) => histogram(1000 + i));

const exemplarsOf = (s: TestSeries): TestExemplar[] =>
  typeof s.exemplars === "object" ? s.exemplars : Array.from(
    { length: s.exemplars ?? 0 },
    (_, i) => ({ labels: [["trace_id", `t${i}`]], value: 1, timestamp: 1 + i }),
  );

/** protobufjs writes NaNs canonically; put the real staleness-marker bits where the placeholder is. */
function patchStale(bytes: Uint8Array): Uint8Array {
  const probe = new Uint8Array(new Float64Array([STALE]).buffer);
  outer: for (let i = 0; i + 8 <= bytes.length; i++) {
    for (let j = 0; j < 8; j++) if (bytes[i + j] !== probe[j]) continue outer;
    bytes.set(STALE_NAN_BITS, i);
  }
  return bytes;
}

/** An integer native histogram Prometheus accepts: 3 observations of 0.5, in bucket -1 of schema 0, (0.25, 0.5]. */
const histogram = (timestamp: number) => ({
  countInt: 3,
  sum: 1.5,
  schema: 0,
  positiveSpans: [{ offset: -1, length: 1 }],
  positiveDeltas: [3],
  timestamp,
});

/**
 * An integer native histogram of 5 observations in one bucket, (0.5, 1], that claims `count` of them:
 * 5 is what Prometheus accepts, fewer or more (with a sum that is not NaN) it refuses.
 */
export const fiveInOneBucket = (count: number, timestamp: number) => ({
  countInt: count,
  sum: 4,
  schema: 0,
  positiveSpans: [{ offset: 0, length: 1 }],
  positiveDeltas: [5],
  timestamp,
});

export function encodeV1(series: TestSeries[]): Uint8Array {
  const type = writeRequestV1();
  const message = type.fromObject({
    timeseries: series.map((s) => ({
      labels: s.labels.map(([name, value]) => ({ name, value })),
      samples: s.samples ?? [],
      exemplars: exemplarsOf(s).map((e) => ({ ...e, labels: e.labels.map(([name, value]) => ({ name, value })) })),
      histograms: histogramsOf(s),
    })),
  });
  return patchStale(type.encode(message).finish());
}

export function encodeV2(series: TestSeries[]): Uint8Array {
  const symbols = [""];
  const index = new Map<string, number>([["", 0]]);
  const ref = (s: string) => {
    let i = index.get(s);
    if (i === undefined) {
      i = symbols.length;
      symbols.push(s);
      index.set(s, i);
    }
    return i;
  };
  const timeseries = series.map((s) => ({
    labelsRefs: s.labels.flatMap(([name, value]) => [ref(name), ref(value)]),
    samples: s.samples ?? [],
    exemplars: exemplarsOf(s).map((e) => ({
      labelsRefs: e.labels.flatMap(([name, value]) => [ref(name), ref(value)]),
      value: e.value,
      timestamp: e.timestamp,
    })),
    histograms: histogramsOf(s),
    metadata: { type: 2, helpRef: ref("help text"), unitRef: 0 },
  }));
  const type = writeRequestV2();
  return patchStale(type.encode(type.fromObject({ symbols, timeseries })).finish());
}

export function compress(message: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(snappy.compressSync(Buffer.from(message)));
}

export function writeRequest(
  url: string,
  series: TestSeries[],
  { version = 1, headers = {} as Record<string, string> } = {},
): Request {
  const body = compress(version === 1 ? encodeV1(series) : encodeV2(series));
  return new Request(url, {
    method: "POST",
    body,
    headers: {
      "content-type": version === 1 ? CONTENT_TYPE_V1 : CONTENT_TYPE_V2,
      "content-encoding": "snappy",
      "x-prometheus-remote-write-version": version === 1 ? "0.1.0" : "2.0.0",
      ...headers,
    },
  });
}
