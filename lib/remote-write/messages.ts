// The messages 1.0 and 2.0 share field for field: Sample and Histogram (with its BucketSpans). 2.0
// adds a start timestamp to each (field 3 of Sample, 17 of Histogram), known and skipped.
import { type BucketSpan, type HistogramSample, RESET_HINTS, type Sample } from "./model.ts";
import {
  checkEnd,
  checkTag,
  F64,
  LEN,
  readDouble,
  type Reader,
  readInt64,
  readRepeated,
  readSint64,
  readTag,
  readUint64,
  skipField,
  VAR,
  WIRE_FIXED64,
  WIRE_VARINT,
  type Wires,
} from "./wire.ts";

export const SAMPLE_V1: Wires = { 1: [F64], 2: [VAR] };
export const SAMPLE_V2: Wires = { ...SAMPLE_V1, 3: [VAR] };
export const HISTOGRAM_V1: Wires = {
  1: [VAR],
  2: [F64],
  3: [F64],
  4: [VAR],
  5: [F64],
  6: [VAR],
  7: [F64],
  8: [LEN],
  9: [VAR, LEN],
  10: [F64, LEN],
  11: [LEN],
  12: [VAR, LEN],
  13: [F64, LEN],
  14: [VAR],
  15: [VAR],
  16: [F64, LEN],
};
export const HISTOGRAM_V2: Wires = { ...HISTOGRAM_V1, 17: [VAR] };
const SPAN: Wires = { 1: [VAR], 2: [VAR] };

/** A Sample message (value = 1 double, timestamp = 2 int64), staleness decided on the raw bits. */
const DOUBLE = new Float64Array(1);
const DOUBLE_BITS = new Uint32Array(DOUBLE.buffer);

export function readSample(r: Reader, end: number, wires: Wires): Sample {
  let value = 0;
  let timestamp = 0;
  let stale = false;
  while (r.pos < end) {
    const tag = r.tag();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === WIRE_FIXED64) {
      if (r.pos + 8 > r.len) throw new RangeError("index out of range: truncated double");
      const b = r.buf;
      const p = r.pos;
      const low = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
      const high = (b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)) >>> 0;
      stale = high === 0x7ff00000 && low === 0x00000002;
      DOUBLE_BITS[0] = low; // protobuf doubles are little-endian, like every platform Bun runs on
      DOUBLE_BITS[1] = high;
      value = DOUBLE[0]!;
      r.pos = p + 8;
    } else if (field === 2 && wire === WIRE_VARINT) {
      timestamp = readInt64(r);
    } else {
      skipField(r, checkTag(tag, wires)); // start_timestamp (2.0), anything newer
    }
  }
  return { value, timestamp, stale };
}

function readSpan(r: Reader, end: number): BucketSpan {
  let offset = 0;
  let length = 0;
  while (r.pos < end) {
    const tag = readTag(r, SPAN);
    if (tag === ((1 << 3) | WIRE_VARINT)) offset = r.sint32();
    else if (tag === ((2 << 3) | WIRE_VARINT)) length = r.uint32();
    else skipField(r, tag);
  }
  return { offset, length };
}

/** Deltas (integer histograms) become absolute counts: each is the previous count plus its delta. */
function undelta(deltas: number[]): number[] {
  let count = 0;
  return deltas.map((delta) => (count += delta));
}

/** A Histogram message: the same field numbers in 1.0 and 2.0 (2.0 adds start_timestamp = 17, skipped). */
export function readHistogram(r: Reader, end: number, wires: Wires): HistogramSample {
  const h: HistogramSample = {
    timestamp: 0,
    float: false,
    count: 0,
    sum: 0,
    schema: 0,
    zeroThreshold: 0,
    zeroCount: 0,
    resetHint: "unknown",
    negativeSpans: [],
    negative: [],
    positiveSpans: [],
    positive: [],
    customValues: [],
  };
  const negativeDeltas: number[] = [];
  const positiveDeltas: number[] = [];
  while (r.pos < end) {
    const tag = readTag(r, wires);
    const field = tag >>> 3;
    const wire = tag & 7;
    switch (field) {
      case 1: // count_int and count_float are a oneof: the last one read decides the kind
        h.count = readUint64(r);
        h.float = false;
        break;
      case 2:
        h.count = readDouble(r);
        h.float = true;
        break;
      case 3:
        h.sum = readDouble(r);
        break;
      case 4:
        h.schema = r.sint32();
        break;
      case 5:
        h.zeroThreshold = readDouble(r);
        break;
      case 6:
        h.zeroCount = readUint64(r);
        break;
      case 7:
        h.zeroCount = readDouble(r);
        break;
      case 8:
      case 11: {
        const spanEnd = r.uint32() + r.pos;
        checkEnd(r, spanEnd);
        (field === 8 ? h.negativeSpans : h.positiveSpans).push(readSpan(r, spanEnd));
        if (r.pos !== spanEnd) throw new RangeError("bucket span overruns its message");
        break;
      }
      case 9:
        readRepeated(r, wire, () => readSint64(r), negativeDeltas);
        break;
      case 10:
        readRepeated(r, wire, () => readDouble(r), h.negative);
        break;
      case 12:
        readRepeated(r, wire, () => readSint64(r), positiveDeltas);
        break;
      case 13:
        readRepeated(r, wire, () => readDouble(r), h.positive);
        break;
      case 14:
        h.resetHint = RESET_HINTS[r.uint32()] ?? "unknown";
        break;
      case 15:
        h.timestamp = readInt64(r);
        break;
      case 16:
        readRepeated(r, wire, () => readDouble(r), h.customValues);
        break;
      default:
        skipField(r, tag); // 17: start_timestamp (2.0 since Prometheus 3.8), and anything newer
    }
  }
  if (negativeDeltas.length > 0) h.negative = undelta(negativeDeltas);
  if (positiveDeltas.length > 0) h.positive = undelta(positiveDeltas);
  return h;
}
