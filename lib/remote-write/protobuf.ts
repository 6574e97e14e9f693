// Remote-write messages on the protobuf wire: prometheus.WriteRequest (1.0) and
// io.prometheus.write.v2.Request (2.0) into the receiver's compact series shape.
//
// Hand-written on top of protobufjs' Reader (the shape pbjs' static code would produce) because
//   - protobufjs turns every double into a JS number, and JavaScriptCore/V8 canonicalise NaNs, so
//     the staleness marker's payload (0x7ff0000000000002) would be lost; here the 8 raw bytes are
//     inspected before conversion;
//   - int64 timestamps would otherwise become Long objects, one allocation per sample;
//   - a series' label bytes can be looked up before they are decoded (the receiver's SeriesMemory).
// The schema of record is proto/*.proto; tests build requests from it with protobufjs reflection.
// Errors are thrown as RangeError (truncated or overlong fields) or DomainError; parseMessage in
// decode.ts turns the former into a 400.
import { Buffer } from "node:buffer";
import protobuf from "protobufjs";
import { DomainError } from "../errors.ts";
import type { LabelMemo, SeriesMemory } from "./series-memory.ts";

export const PROTO_V1 = "prometheus.WriteRequest";
export const PROTO_V2 = "io.prometheus.write.v2.Request";

export interface Sample {
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** Prometheus staleness marker (NaN with bits 0x7ff0000000000002), read from the raw bytes. */
  stale: boolean;
}

export interface Series {
  /** Flat name/value pairs in the order received: [name0, value0, name1, value1, ...]. Shared: never mutate. */
  labels: readonly string[];
  /** The receiver's memory of this label set (SeriesMemory), when the decoder looked it up there. */
  memo?: LabelMemo;
  samples: Sample[];
  /** Native histogram samples present (not stored: the mapping has one float field). */
  histograms: number;
  /** Exemplars present (not stored). */
  exemplars: number;
}

type Reader = protobuf.Reader;
const WIRE_VARINT = 0;
const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * Label strings: ASCII ones (nearly all) are cut from one latin1 view of the whole buffer by a
 * native slice; any byte >= 0x80 means real UTF-8, decoded properly. Slices are flat copies, so a
 * cached label set never keeps its whole request alive.
 */
class StringReader {
  private readonly view: Buffer;
  constructor(private readonly message: Uint8Array) {
    this.view = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  }

  read(r: Reader): string {
    const len = r.uint32();
    const start = r.pos;
    const end = start + len;
    if (end > r.len) throw new RangeError(`index out of range: string of ${len} bytes beyond the message`);
    r.pos = end;
    return this.slice(start, end);
  }

  slice(start: number, end: number): string {
    const bytes = this.message;
    for (let i = start; i < end; i++) {
      if (bytes[i]! >= 0x80) return utf8.decode(bytes.subarray(start, end));
    }
    return this.view.toString("latin1", start, end);
  }

  /** The bytes themselves as a string, one char per byte: a lossless map key. */
  raw(start: number, end: number): string {
    return this.view.toString("latin1", start, end);
  }
}

/** Decodes every Label (field 1) of a TimeSeries between start and end, skipping other fields. */
function decodeLabels(strings: StringReader, r: Reader, start: number, end: number): string[] {
  const resume = r.pos;
  r.pos = start;
  const labels: string[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag !== ((1 << 3) | WIRE_LENGTH)) {
      r.skipType(tag & 7);
      continue;
    }
    const subEnd = r.uint32() + r.pos;
    let name = "";
    let value = "";
    while (r.pos < subEnd) {
      const t = r.uint32();
      if (t === ((1 << 3) | WIRE_LENGTH)) name = strings.read(r);
      else if (t === ((2 << 3) | WIRE_LENGTH)) value = strings.read(r);
      else r.skipType(t & 7);
    }
    if (r.pos !== subEnd) throw new RangeError("label overruns its message");
    labels.push(name, value);
  }
  r.pos = resume;
  return labels;
}

const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;

/** int64 varint as a JS number; the fast path covers every millisecond timestamp until year 10889. */
function readInt64(r: Reader): number {
  const buf = r.buf;
  let pos = r.pos;
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 7; i++) {
    if (pos >= r.len) throw new RangeError("index out of range: truncated varint");
    const byte = buf[pos++]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      r.pos = pos;
      return value;
    }
    scale *= 128;
  }
  // Longer varints (negative or huge): let protobufjs do the exact 64-bit arithmetic.
  const long = r.int64() as unknown as number | { toNumber(): number };
  return typeof long === "number" ? long : long.toNumber();
}

/** A Sample message (value = 1 double, timestamp = 2 int64), staleness decided on the raw bits. */
const DOUBLE = new Float64Array(1);
const DOUBLE_BITS = new Uint32Array(DOUBLE.buffer);

function readSample(r: Reader, end: number): Sample {
  let value = 0;
  let timestamp = 0;
  let stale = false;
  while (r.pos < end) {
    const tag = r.uint32();
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
      r.skipType(wire);
    }
  }
  return { value, timestamp, stale };
}

function checkEnd(r: Reader, end: number): void {
  if (end > r.len) throw new RangeError(`index out of range: message length ${end} beyond ${r.len}`);
}

/** 1.0: label sets are looked up in (and added to) the receiver's memory by their raw bytes. */
export function parseV1(message: Uint8Array, memory: SeriesMemory): Series[] {
  const r = protobuf.Reader.create(message);
  const strings = new StringReader(message);
  const series: Series[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === WIRE_LENGTH) {
      const end = r.uint32() + r.pos;
      checkEnd(r, end);
      series.push(readSeriesV1(r, end, strings, memory));
    } else {
      r.skipType(tag & 7); // metadata (3) and anything newer
    }
  }
  return series;
}

function readSeriesV1(r: Reader, end: number, strings: StringReader, memory: SeriesMemory): Series {
  const seriesStart = r.pos;
  const samples: Sample[] = [];
  let histograms = 0;
  let exemplars = 0;
  // Where the Label fields are; Prometheus writes them first and together (one cache key).
  let labelsStart = -1;
  let labelsEnd = -1;
  let contiguous = true;
  while (r.pos < end) {
    const fieldStart = r.pos;
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire !== WIRE_LENGTH || field < 1 || field > 4) {
      r.skipType(wire);
      continue;
    }
    const len = r.uint32();
    const subEnd = r.pos + len;
    checkEnd(r, subEnd);
    if (field === 1) {
      if (labelsStart < 0) labelsStart = fieldStart;
      else if (labelsEnd !== fieldStart) contiguous = false;
      labelsEnd = subEnd;
      r.pos = subEnd; // decoded (or found in the cache) below
    } else if (field === 2) {
      samples.push(readSample(r, subEnd));
    } else {
      if (field === 3) exemplars++;
      else histograms++;
      r.skip(len);
    }
    if (r.pos !== subEnd) throw new RangeError("field overruns its message");
  }
  if (labelsStart >= 0 && contiguous) {
    const memo = memory.labelSet(
      strings.raw(labelsStart, labelsEnd),
      () => decodeLabels(strings, r, labelsStart, labelsEnd),
    );
    return { labels: memo.labels, memo, samples, histograms, exemplars };
  }
  const labels = labelsStart < 0 ? [] : decodeLabels(strings, r, seriesStart, end);
  return { labels, samples, histograms, exemplars };
}

export function parseV2(message: Uint8Array): Series[] {
  const r = protobuf.Reader.create(message);
  const strings = new StringReader(message);
  const symbols: string[] = [];
  const raw: { refs: number[]; samples: Sample[]; histograms: number; exemplars: number }[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 4 && wire === WIRE_LENGTH) {
      symbols.push(strings.read(r));
    } else if (field === 5 && wire === WIRE_LENGTH) {
      const end = r.uint32() + r.pos;
      checkEnd(r, end);
      raw.push(readSeriesV2(r, end));
    } else {
      r.skipType(wire);
    }
  }
  // Symbols may in principle follow the series, so refs are resolved once everything is read.
  return raw.map(({ refs, samples, histograms, exemplars }) => {
    if (refs.length % 2 !== 0) {
      throw new DomainError("malformed", `malformed ${PROTO_V2}: labels_refs has odd length ${refs.length}`);
    }
    const labels = refs.map((ref) => {
      const symbol = symbols[ref];
      if (symbol === undefined) {
        throw new DomainError(
          "malformed",
          `malformed ${PROTO_V2}: label reference ${ref} outside symbols table of ${symbols.length}`,
        );
      }
      return symbol;
    });
    return { labels, samples, histograms, exemplars };
  });
}

function readSeriesV2(r: Reader, end: number) {
  const refs: number[] = [];
  const samples: Sample[] = [];
  let histograms = 0;
  let exemplars = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === WIRE_LENGTH) {
      const packedEnd = r.uint32() + r.pos;
      checkEnd(r, packedEnd);
      while (r.pos < packedEnd) refs.push(r.uint32());
    } else if (field === 1 && wire === WIRE_VARINT) {
      refs.push(r.uint32());
    } else if (field === 2 && wire === WIRE_LENGTH) {
      const sampleEnd = r.uint32() + r.pos;
      checkEnd(r, sampleEnd);
      samples.push(readSample(r, sampleEnd));
      if (r.pos !== sampleEnd) throw new RangeError("sample overruns its message");
    } else {
      if (field === 3 && wire === WIRE_LENGTH) histograms++;
      else if (field === 4 && wire === WIRE_LENGTH) exemplars++;
      r.skipType(wire); // metadata, created_timestamp, histogram and exemplar bodies
    }
  }
  if (r.pos !== end) throw new RangeError("field overruns its message");
  return { refs, samples, histograms, exemplars };
}
