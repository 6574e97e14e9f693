// Remote write 2.0: io.prometheus.write.v2.Request on the wire into the receiver's series (model.ts):
// labels, exemplar labels, help and unit are references into the request's symbols table, resolved
// once the whole message is read. Written like parse-v1.ts (see there why by hand).
import protobuf from "protobufjs";
import { DomainError } from "@tarsd/sdk";
import {
  type HistogramSample,
  METRIC_TYPES,
  type MetricType,
  type ParsedRequest,
  PROTO_V2,
  type Sample,
  type Series,
} from "./model.ts";
import { HISTOGRAM_V2, readHistogram, readSample, SAMPLE_V2 } from "./messages.ts";
import {
  checkEnd,
  F64,
  LEN,
  readDouble,
  type Reader,
  readInt64,
  readRepeated,
  readTag,
  skipField,
  StringReader,
  VAR,
  WIRE_FIXED64,
  WIRE_LENGTH,
  WIRE_VARINT,
  type Wires,
} from "./wire.ts";

const REQUEST_V2: Wires = { 4: [LEN], 5: [LEN] };
const SERIES_V2: Wires = { 1: [VAR, LEN], 2: [LEN], 3: [LEN], 4: [LEN], 5: [LEN], 6: [VAR] };
const EXEMPLAR_V2: Wires = { 1: [VAR, LEN], 2: [F64], 3: [VAR] };
const METADATA_V2: Wires = { 1: [VAR], 3: [VAR], 4: [VAR] };

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
