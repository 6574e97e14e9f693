// What a remote-write request says, in the receiver's compact shape: the series of a 1.0
// prometheus.WriteRequest or a 2.0 io.prometheus.write.v2.Request (both read into the same shape by
// parse-v1.ts and parse-v2.ts), which the converter turns into line protocol. No wire format here.
export const PROTO_V1 = "prometheus.WriteRequest";
export const PROTO_V2 = "io.prometheus.write.v2.Request";

export interface Sample {
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** Prometheus staleness marker (NaN with bits 0x7ff0000000000002), read from the raw bytes. */
  stale: boolean;
}

type ResetHint = "unknown" | "yes" | "no" | "gauge";
/** The enum values in their wire order (Histogram.ResetHint). */
export const RESET_HINTS: readonly ResetHint[] = ["unknown", "yes", "no", "gauge"];

export interface BucketSpan {
  offset: number;
  length: number;
}

/** A native histogram sample (1.0 Histogram, 2.0 Histogram), integer counts turned into numbers. */
export interface HistogramSample {
  timestamp: number;
  /** A float histogram (count_float, float bucket counts), else an integer one (count_int, deltas). */
  float: boolean;
  count: number;
  sum: number;
  /** -4..8: exponential buckets; -53: custom bounds (customValues). */
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  resetHint: ResetHint;
  negativeSpans: BucketSpan[];
  /** Absolute count of each negative bucket the spans name (deltas already summed). */
  negative: number[];
  positiveSpans: BucketSpan[];
  positive: number[];
  customValues: number[];
}

export interface Exemplar {
  /** Flat name/value pairs, e.g. ["trace_id", "4bf9..."]. */
  labels: string[];
  value: number;
  /** Milliseconds since the epoch; 0 = not set. */
  timestamp: number;
}

export type MetricType =
  | "unknown"
  | "counter"
  | "gauge"
  | "histogram"
  | "gaugehistogram"
  | "summary"
  | "info"
  | "stateset";
/** The enum values in their wire order (MetricMetadata.MetricType, Metadata.MetricType). */
export const METRIC_TYPES: readonly MetricType[] = [
  "unknown",
  "counter",
  "gauge",
  "histogram",
  "gaugehistogram",
  "summary",
  "info",
  "stateset",
];

export interface Metadata {
  type: MetricType;
  help: string;
  unit: string;
}

export interface Series {
  /** Flat name/value pairs in the order received: [name0, value0, name1, value1, ...]. Shared: never mutate. */
  labels: readonly string[];
  /** 1.0: the Label fields as received, when they are ASCII and together (as Prometheus sends them). */
  labelBytes?: LabelBytes;
  samples: Sample[];
  histograms: readonly HistogramSample[];
  exemplars: readonly Exemplar[];
  /** 2.0: the series' own metadata, when the sender gave any. */
  metadata?: Metadata;
}

/**
 * A series' Label fields (1.0 TimeSeries field 1, each `Label{name = 1, value = 2}`) as they sit in the
 * message: bytes[start, end), already checked to be valid protobuf and ASCII. Valid for the request.
 */
export interface LabelBytes {
  bytes: Uint8Array;
  start: number;
  end: number;
}

/** 1.0 metadata: one entry per metric family, beside the series (WriteRequest field 3). */
export interface FamilyMetadata extends Metadata {
  metricFamilyName: string;
}

export interface ParsedRequest {
  series: Series[];
  metadata: FamilyMetadata[];
}
