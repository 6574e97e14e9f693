// Remote-write messages on the protobuf wire: prometheus.WriteRequest (1.0) and
// io.prometheus.write.v2.Request (2.0) into the receiver's compact series shape.
//
// Hand-written on top of protobufjs' Reader (the shape pbjs' static code would produce) because
//   - protobufjs turns every double into a JS number, and JavaScriptCore/V8 canonicalise NaNs, so
//     the staleness marker's payload (0x7ff0000000000002) would be lost; here the 8 raw bytes are
//     inspected before conversion;
//   - int64 timestamps would otherwise become Long objects, one allocation per sample;
//   - a 1.0 series' Label fields can be handed to the converter as the bytes they are (LabelBytes),
//     so the plain case is copied into line protocol without a string ever being made.
// The schema of record is proto/*.proto; tests build requests from it with protobufjs reflection.
// Errors are thrown as RangeError (truncated or overlong fields) or DomainError; parseMessage in
// decode.ts turns the former into a 400.
import { Buffer } from "node:buffer";
import protobuf from "protobufjs";
import { DomainError } from "@tarsd/sdk";

export const PROTO_V1 = "prometheus.WriteRequest";
export const PROTO_V2 = "io.prometheus.write.v2.Request";

export interface Sample {
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** Prometheus staleness marker (NaN with bits 0x7ff0000000000002), read from the raw bytes. */
  stale: boolean;
}

export type ResetHint = "unknown" | "yes" | "no" | "gauge";
const RESET_HINTS: readonly ResetHint[] = ["unknown", "yes", "no", "gauge"];

export interface BucketSpan {
  offset: number;
  length: number;
}

/** A native histogram sample (1.0 Histogram, 2.0 Histogram), integer counts turned into numbers. */
export interface HistogramSample {
  timestamp: number;
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
const METRIC_TYPES: readonly MetricType[] = [
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

type Reader = protobuf.Reader;
const WIRE_VARINT = 0;
// proto3 strings are UTF-8: invalid bytes make the message invalid (400), as protobuf's own decoders
// say, rather than labels silently rewritten with U+FFFD.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Label strings: ASCII ones (nearly all) are cut from one latin1 view of the whole buffer by a
 * native slice; any byte >= 0x80 means real UTF-8, decoded strictly.
 */
class StringReader {
  private readonly view: Buffer;
  constructor(private readonly message: Uint8Array) {
    this.view = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  }

  read(r: Reader): string {
    const start = skipString(r);
    return this.slice(start, r.pos);
  }

  slice(start: number, end: number): string {
    const bytes = this.message;
    for (let i = start; i < end; i++) {
      if (bytes[i]! >= 0x80) return utf8.decode(bytes.subarray(start, end));
    }
    return this.view.toString("latin1", start, end);
  }
}

/** A 1.0 series whose labels are kept as bytes: its strings are made only if someone asks for them. */
class SeriesOfBytes implements Series {
  private decoded: readonly string[] | undefined;

  constructor(
    readonly labelBytes: LabelBytes,
    private readonly strings: StringReader,
    readonly samples: Sample[],
    readonly histograms: readonly HistogramSample[],
    readonly exemplars: readonly Exemplar[],
  ) {}

  get labels(): readonly string[] {
    if (this.decoded === undefined) {
      const { bytes, start, end } = this.labelBytes;
      this.decoded = decodeLabels(this.strings, protobuf.Reader.create(bytes), start, end);
    }
    return this.decoded;
  }
}

/**
 * Checks the Label fields between start and end (structure and wire types, as decodeLabels would)
 * without making a string; true when every byte of every name and value is ASCII, which makes them
 * valid UTF-8 whatever they are. Others are decoded now, so invalid UTF-8 is refused with the request.
 */
function asciiLabels(r: Reader, start: number, end: number): boolean {
  if (plainAsciiLabels(r.buf, start, end)) return true;
  let ascii = true;
  const buf = r.buf;
  forEachLabel(r, start, end, (labelEnd) => {
    while (r.pos < labelEnd) {
      const t = r.tag();
      if (t === ((1 << 3) | WIRE_LENGTH) || t === ((2 << 3) | WIRE_LENGTH)) {
        const from = skipString(r);
        for (let i = from; i < r.pos; i++) if (buf[i]! >= 0x80) ascii = false;
      } else skipField(r, checkTag(t, LABEL));
    }
    if (r.pos !== labelEnd) throw new RangeError("label overruns its message");
  });
  return ascii;
}

/**
 * Calls `visit` for each Label (field 1) of a TimeSeries between start and end, the reader at the
 * Label's first field; other fields are checked and skipped. The reader is back where it was after.
 */
function forEachLabel(r: Reader, start: number, end: number, visit: (labelEnd: number) => void): void {
  const resume = r.pos;
  r.pos = start;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag !== ((1 << 3) | WIRE_LENGTH)) {
      skipField(r, checkTag(tag, SERIES_V1));
      continue;
    }
    const labelEnd = r.uint32() + r.pos;
    checkEnd(r, labelEnd);
    visit(labelEnd);
  }
  r.pos = resume;
}

/**
 * The common case of asciiLabels, byte by byte: each Label as Prometheus writes it (fields of at
 * most 127 bytes, each a name or a value, inside its Label), every byte ASCII. False means "ask
 * the general walk", not "invalid".
 */
function plainAsciiLabels(buf: Uint8Array, start: number, end: number): boolean {
  for (let p = start; p < end;) {
    const labelLength = buf[p + 1]!;
    if (buf[p] !== 0x0a || labelLength >= 0x80) return false;
    const labelEnd = p + 2 + labelLength;
    if (!(labelEnd <= end)) return false; // (NaN past the buffer's end too)
    for (p += 2; p < labelEnd;) {
      const tag = buf[p]!;
      const length = buf[p + 1]!;
      if ((tag !== 0x0a && tag !== 0x12) || length >= 0x80) return false;
      const fieldEnd = p + 2 + length;
      if (!(fieldEnd <= labelEnd)) return false;
      for (p += 2; p < fieldEnd; p++) if (buf[p]! >= 0x80) return false;
    }
  }
  return true;
}

/** Moves past a length-delimited string; returns where its bytes start. */
function skipString(r: Reader): number {
  const length = r.uint32();
  const from = r.pos;
  if (from + length > r.len) throw new RangeError(`index out of range: string of ${length} bytes beyond the message`);
  r.pos = from + length;
  return from;
}

/** Decodes every Label (field 1) of a TimeSeries between start and end, skipping other fields. */
function decodeLabels(strings: StringReader, r: Reader, start: number, end: number): string[] {
  const labels: string[] = [];
  forEachLabel(r, start, end, (labelEnd) => readLabel(strings, r, labelEnd, labels));
  return labels;
}

/** One Label message (name = 1, value = 2) ending at `end`, appended to `into` as name, value. */
function readLabel(strings: StringReader, r: Reader, end: number, into: string[]): void {
  let name = "";
  let value = "";
  while (r.pos < end) {
    const t = r.tag();
    if (t === ((1 << 3) | WIRE_LENGTH)) name = strings.read(r);
    else if (t === ((2 << 3) | WIRE_LENGTH)) value = strings.read(r);
    else skipField(r, checkTag(t, LABEL));
  }
  if (r.pos !== end) throw new RangeError("label overruns its message");
  into.push(name, value);
}

const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const [VAR, F64, LEN] = [WIRE_VARINT, WIRE_FIXED64, WIRE_LENGTH];

// Tags are read with Reader.tag(): at most 5 bytes and 32 bits, as protobuf's decoders require (a
// longer varint is not a tag). The wire types each known field may come with (repeated numbers: one by one, or packed). A known
// field with another wire type is refused, as Prometheus' own (gogo-generated) decoder refuses it;
// unknown fields are skipped, as newer senders may add some. Field 0 does not exist.
type Wires = Readonly<Record<number, readonly number[]>>;
const REQUEST_V1: Wires = { 1: [LEN], 3: [LEN] };
const SERIES_V1: Wires = { 1: [LEN], 2: [LEN], 3: [LEN], 4: [LEN] };
const LABEL: Wires = { 1: [LEN], 2: [LEN] };
const SAMPLE_V1: Wires = { 1: [F64], 2: [VAR] };
const SAMPLE_V2: Wires = { ...SAMPLE_V1, 3: [VAR] };
const EXEMPLAR_V1: Wires = { 1: [LEN], 2: [F64], 3: [VAR] };
const METADATA_V1: Wires = { 1: [VAR], 2: [LEN], 4: [LEN], 5: [LEN] };
const HISTOGRAM_V1: Wires = {
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
const HISTOGRAM_V2: Wires = { ...HISTOGRAM_V1, 17: [VAR] };
const SPAN: Wires = { 1: [VAR], 2: [VAR] };
const REQUEST_V2: Wires = { 4: [LEN], 5: [LEN] };
const SERIES_V2: Wires = { 1: [VAR, LEN], 2: [LEN], 3: [LEN], 4: [LEN], 5: [LEN], 6: [VAR] };
const EXEMPLAR_V2: Wires = { 1: [VAR, LEN], 2: [F64], 3: [VAR] };
const METADATA_V2: Wires = { 1: [VAR], 3: [VAR], 4: [VAR] };

/**
 * Skips the field whose tag was just read. A group (wire type 3, long deprecated) must end with the
 * end-group tag of the same field number; an end-group tag alone is invalid.
 */
function skipField(r: Reader, tag: number): void {
  const wire = tag & 7;
  if (wire === 4) throw new RangeError(`unexpected end-group tag of field ${tag >>> 3}`);
  if (wire !== 3) {
    r.skipType(wire);
    return;
  }
  for (;;) {
    const inner = r.tag();
    if ((inner & 7) === 4) {
      if (inner >>> 3 !== tag >>> 3) {
        throw new RangeError(`end-group tag of field ${inner >>> 3} in group ${tag >>> 3}`);
      }
      return;
    }
    skipField(r, inner);
  }
}

/** The next field's tag, checked against the message's known fields. */
function readTag(r: Reader, wires: Wires): number {
  return checkTag(r.tag(), wires);
}

function checkTag(tag: number, wires: Wires): number {
  const field = tag >>> 3;
  if (field === 0) throw new RangeError("illegal field number 0");
  const allowed = wires[field];
  if (allowed !== undefined && !allowed.includes(tag & 7)) {
    throw new RangeError(`field ${field} cannot have wire type ${tag & 7}`);
  }
  return tag;
}

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

function readSample(r: Reader, end: number, wires: Wires): Sample {
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

/** A double in a wire-format FIXED64 field (counts, sums, bounds: NaN payloads do not matter here). */
function readDouble(r: Reader): number {
  if (r.pos + 8 > r.len) throw new RangeError("index out of range: truncated double");
  return r.double();
}

function readSint64(r: Reader): number {
  const long = r.sint64() as unknown as number | { toNumber(): number };
  return typeof long === "number" ? long : long.toNumber();
}

function readUint64(r: Reader): number {
  const long = r.uint64() as unknown as number | { toNumber(): number };
  return typeof long === "number" ? long : long.toNumber();
}

/** A repeated scalar field, packed (one LENGTH field) or not (one field per value). */
function readRepeated(r: Reader, wire: number, one: () => number, into: number[]): void {
  if (wire !== WIRE_LENGTH) {
    into.push(one());
    return;
  }
  const end = r.uint32() + r.pos;
  checkEnd(r, end);
  while (r.pos < end) into.push(one());
  if (r.pos !== end) throw new RangeError("packed field overruns its message");
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
function readHistogram(r: Reader, end: number, wires: Wires): HistogramSample {
  const h: HistogramSample = {
    timestamp: 0,
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
      case 1:
        h.count = readUint64(r);
        break;
      case 2:
        h.count = readDouble(r);
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

/** 1.0 Exemplar: labels (1), value (2), timestamp (3). */
function readExemplarV1(r: Reader, end: number, strings: StringReader): Exemplar {
  const exemplar: Exemplar = { labels: [], value: 0, timestamp: 0 };
  while (r.pos < end) {
    const tag = readTag(r, EXEMPLAR_V1);
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === WIRE_LENGTH) {
      const labelEnd = r.uint32() + r.pos;
      checkEnd(r, labelEnd);
      readLabel(strings, r, labelEnd, exemplar.labels);
    } else if (field === 2 && wire === WIRE_FIXED64) exemplar.value = readDouble(r);
    else if (field === 3 && wire === WIRE_VARINT) exemplar.timestamp = readInt64(r);
    else skipField(r, tag);
  }
  return exemplar;
}

function checkEnd(r: Reader, end: number): void {
  if (end > r.len) throw new RangeError(`index out of range: message length ${end} beyond ${r.len}`);
}

export function parseV1(message: Uint8Array): ParsedRequest {
  const r = protobuf.Reader.create(message);
  const strings = new StringReader(message);
  const series: Series[] = [];
  const metadata: FamilyMetadata[] = [];
  while (r.pos < r.len) {
    const tag = readTag(r, REQUEST_V1);
    const field = tag >>> 3;
    if (field === 1 || field === 3) {
      const end = r.uint32() + r.pos;
      checkEnd(r, end);
      if (field === 1) series.push(readSeriesV1(r, end, strings));
      else metadata.push(readMetadataV1(r, end, strings));
      if (r.pos !== end) throw new RangeError("field overruns its message");
    } else {
      skipField(r, tag); // anything newer
    }
  }
  return { series, metadata };
}

/** 1.0 MetricMetadata: type (1), metric_family_name (2), help (4), unit (5). */
function readMetadataV1(r: Reader, end: number, strings: StringReader): FamilyMetadata {
  const metadata: FamilyMetadata = { type: "unknown", metricFamilyName: "", help: "", unit: "" };
  while (r.pos < end) {
    const tag = readTag(r, METADATA_V1);
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === WIRE_VARINT) metadata.type = METRIC_TYPES[r.uint32()] ?? "unknown";
    else if (field === 2 && wire === WIRE_LENGTH) metadata.metricFamilyName = strings.read(r);
    else if (field === 4 && wire === WIRE_LENGTH) metadata.help = strings.read(r);
    else if (field === 5 && wire === WIRE_LENGTH) metadata.unit = strings.read(r);
    else skipField(r, tag);
  }
  return metadata;
}

const NONE: never[] = Object.freeze([]) as never[];

function readSeriesV1(r: Reader, end: number, strings: StringReader): Series {
  const seriesStart = r.pos;
  const samples: Sample[] = [];
  // Most series have neither: they share one empty list instead of two new ones each.
  let histograms: HistogramSample[] = NONE;
  let exemplars: Exemplar[] = NONE;
  // Where the Label fields are; Prometheus writes them first and together (then they are kept as bytes).
  let labelsStart = -1;
  let labelsEnd = -1;
  let contiguous = true;
  while (r.pos < end) {
    const fieldStart = r.pos;
    const tag = r.tag();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire !== WIRE_LENGTH || field < 1 || field > 4) {
      skipField(r, checkTag(tag, SERIES_V1));
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
      samples.push(readSample(r, subEnd, SAMPLE_V1));
    } else if (field === 3) {
      if (exemplars === NONE) exemplars = [];
      exemplars.push(readExemplarV1(r, subEnd, strings));
    } else {
      if (histograms === NONE) histograms = [];
      histograms.push(readHistogram(r, subEnd, HISTOGRAM_V1));
    }
    if (r.pos !== subEnd) throw new RangeError("field overruns its message");
  }
  if (labelsStart >= 0 && contiguous && asciiLabels(r, labelsStart, labelsEnd)) {
    const labelBytes = { bytes: r.buf, start: labelsStart, end: labelsEnd };
    return new SeriesOfBytes(labelBytes, strings, samples, histograms, exemplars);
  }
  const labels = labelsStart < 0 ? [] : decodeLabels(strings, r, seriesStart, end);
  return { labels, samples, histograms, exemplars };
}

interface RawSeriesV2 {
  refs: number[];
  samples: Sample[];
  histograms: HistogramSample[];
  exemplars: { refs: number[]; value: number; timestamp: number }[];
  metadata?: { type: MetricType; helpRef: number; unitRef: number };
}

export function parseV2(message: Uint8Array): ParsedRequest {
  const r = protobuf.Reader.create(message);
  const strings = new StringReader(message);
  const symbols: string[] = [];
  const raw: RawSeriesV2[] = [];
  while (r.pos < r.len) {
    const tag = readTag(r, REQUEST_V2);
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 4 && wire === WIRE_LENGTH) {
      symbols.push(strings.read(r));
    } else if (field === 5 && wire === WIRE_LENGTH) {
      const end = r.uint32() + r.pos;
      checkEnd(r, end);
      raw.push(readSeriesV2(r, end));
    } else {
      skipField(r, tag);
    }
  }
  // Symbols may in principle follow the series, so refs are resolved once everything is read.
  const symbol = (ref: number) => {
    const text = symbols[ref];
    if (text === undefined) {
      throw new DomainError(
        "malformed",
        `malformed ${PROTO_V2}: reference ${ref} outside symbols table of ${symbols.length}`,
      );
    }
    return text;
  };
  const pairs = (refs: number[], what: string) => {
    if (refs.length % 2 !== 0) {
      throw new DomainError("malformed", `malformed ${PROTO_V2}: ${what} has odd length ${refs.length}`);
    }
    return refs.map(symbol);
  };
  const series = raw.map((one): Series => ({
    labels: pairs(one.refs, "labels_refs"),
    samples: one.samples,
    histograms: one.histograms,
    exemplars: one.exemplars.map((e) => ({
      labels: pairs(e.refs, "exemplar labels_refs"),
      value: e.value,
      timestamp: e.timestamp,
    })),
    ...(one.metadata && {
      metadata: { type: one.metadata.type, help: symbol(one.metadata.helpRef), unit: symbol(one.metadata.unitRef) },
    }),
  }));
  return { series, metadata: [] };
}

function readSeriesV2(r: Reader, end: number): RawSeriesV2 {
  const one: RawSeriesV2 = { refs: [], samples: [], histograms: [], exemplars: [] };
  while (r.pos < end) {
    const tag = readTag(r, SERIES_V2);
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) {
      readRepeated(r, wire, () => r.uint32(), one.refs);
    } else if (field >= 2 && field <= 5 && wire === WIRE_LENGTH) {
      const subEnd = r.uint32() + r.pos;
      checkEnd(r, subEnd);
      if (field === 2) one.samples.push(readSample(r, subEnd, SAMPLE_V2)); // start_timestamp (3) skipped inside
      else if (field === 3) one.histograms.push(readHistogram(r, subEnd, HISTOGRAM_V2));
      else if (field === 4) one.exemplars.push(readExemplarV2(r, subEnd));
      else one.metadata = readMetadataV2(r, subEnd);
      if (r.pos !== subEnd) throw new RangeError("field overruns its message");
    } else {
      skipField(r, tag); // created_timestamp (6, senders before Prometheus 3.8), anything newer
    }
  }
  if (r.pos !== end) throw new RangeError("field overruns its message");
  return one;
}

/** 2.0 Exemplar: labels_refs (1), value (2), timestamp (3). */
function readExemplarV2(r: Reader, end: number): RawSeriesV2["exemplars"][number] {
  const exemplar = { refs: [] as number[], value: 0, timestamp: 0 };
  while (r.pos < end) {
    const tag = readTag(r, EXEMPLAR_V2);
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) readRepeated(r, wire, () => r.uint32(), exemplar.refs);
    else if (field === 2 && wire === WIRE_FIXED64) exemplar.value = readDouble(r);
    else if (field === 3 && wire === WIRE_VARINT) exemplar.timestamp = readInt64(r);
    else skipField(r, tag);
  }
  return exemplar;
}

/** 2.0 Metadata: type (1), help_ref (3), unit_ref (4). */
function readMetadataV2(r: Reader, end: number): NonNullable<RawSeriesV2["metadata"]> {
  const metadata = { type: "unknown" as MetricType, helpRef: 0, unitRef: 0 };
  while (r.pos < end) {
    const tag = readTag(r, METADATA_V2);
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === WIRE_VARINT) metadata.type = METRIC_TYPES[r.uint32()] ?? "unknown";
    else if (field === 3 && wire === WIRE_VARINT) metadata.helpRef = r.uint32();
    else if (field === 4 && wire === WIRE_VARINT) metadata.unitRef = r.uint32();
    else skipField(r, tag);
  }
  return metadata;
}
