// Remote write 1.0: prometheus.WriteRequest on the wire into the receiver's series (model.ts).
//
// Hand-written on top of protobufjs' Reader (the shape pbjs' static code would produce) because
//   - protobufjs turns every double into a JS number, and JavaScriptCore/V8 canonicalise NaNs, so
//     the staleness marker's payload (0x7ff0000000000002) would be lost; here the 8 raw bytes are
//     inspected before conversion (messages.ts);
//   - int64 timestamps would otherwise become Long objects, one allocation per sample;
//   - a series' Label fields can be handed to the converter as the bytes they are (LabelBytes),
//     so the plain case is copied into line protocol without a string ever being made.
// The schema of record is proto/*.proto; tests build requests from it with protobufjs reflection
// (harness/remote-write-schema.ts).
// Errors are thrown as RangeError (truncated or overlong fields) or DomainError; parseMessage in
// decode.ts turns the former into a 400.
import protobuf from "protobufjs";
import {
  type Exemplar,
  type FamilyMetadata,
  type HistogramSample,
  type LabelBytes,
  METRIC_TYPES,
  type ParsedRequest,
  type Sample,
  type Series,
} from "./model.ts";
import { HISTOGRAM_V1, readHistogram, readSample, SAMPLE_V1 } from "./messages.ts";
import {
  checkEnd,
  checkTag,
  F64,
  LEN,
  readDouble,
  type Reader,
  readInt64,
  readTag,
  skipField,
  skipString,
  StringReader,
  VAR,
  WIRE_FIXED64,
  WIRE_LENGTH,
  WIRE_VARINT,
  type Wires,
} from "./wire.ts";

const REQUEST_V1: Wires = { 1: [LEN], 3: [LEN] };
const SERIES_V1: Wires = { 1: [LEN], 2: [LEN], 3: [LEN], 4: [LEN] };
const LABEL: Wires = { 1: [LEN], 2: [LEN] };
const EXEMPLAR_V1: Wires = { 1: [LEN], 2: [F64], 3: [VAR] };
const METADATA_V1: Wires = { 1: [VAR], 2: [LEN], 4: [LEN], 5: [LEN] };

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
