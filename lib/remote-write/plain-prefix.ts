// The line prefix of the plain series, copied from the request's bytes without making a string:
// what Prometheus sends nearly always is ASCII labels with names sorted, a metric name, no name
// InfluxDB reserves and nothing escape.tag/escape.measurement would change. For such a series the
// general path (convert.ts: decode the strings, escape them, join) writes exactly these bytes, so the
// converter may copy them instead; anything else is left to the general path. This is what makes a
// series never seen before as cheap as one seen every interval: there is nothing to remember.
import type { ByteWriter } from "./byte-writer.ts";
import { RESERVED_TAG_KEYS } from "./line-protocol.ts";
import type { LabelBytes } from "./model.ts";

/** What each byte needs: 0 nothing; 1 escaped in a tag (`=`); 2 escaped everywhere; 3 the general path decides. */
const CLASS = new Uint8Array(256);
for (const c of ",\n\r\t ") CLASS[c.charCodeAt(0)] = 2;
CLASS["=".charCodeAt(0)] = 1;
CLASS["\\".charCodeAt(0)] = 3; // Point does not escape it: whether it can be encoded depends on what follows
for (let c = 0x80; c < 0x100; c++) CLASS[c] = 3;

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const METRIC_NAME = ascii("__name__");
/** The general path renames these. */
const RESERVED = RESERVED_TAG_KEYS.map(ascii);

const LABEL_TAG = (1 << 3) | 2; // TimeSeries.labels and Label.name: field 1, length-delimited
const VALUE_TAG = (2 << 3) | 2; // Label.value

/**
 * The varint length at `at` and how many bytes it took, as `length * 8 + bytes`, or -1 when longer
 * than 4 bytes (no label is that long; the general path takes it).
 */
function lengthAt(bytes: Uint8Array, at: number): number {
  let length = 0;
  for (let i = 0; i < 4; i++) {
    const byte = bytes[at + i]!;
    length |= (byte & 0x7f) << (7 * i);
    if (byte < 0x80) return length * 8 + i + 1;
  }
  return -1;
}

/**
 * Appends `measurement,tag=value,...` and then `tail` to `out` when the series is the plain case,
 * and returns true; otherwise writes nothing and returns false. The bytes were checked by the
 * decoder (valid protobuf, ASCII); here each Label must be exactly `name, value`, as Prometheus
 * writes it. One pass: each tag is checked as it is copied; the measurement, wherever its label
 * sorts, is moved in front of the tags copied before it.
 */
export function writePlainPrefix(labels: LabelBytes, out: ByteWriter, tail: Uint8Array): boolean {
  const { bytes, start, end } = labels;
  // `,name=value` is shorter than its Label's encoding (at least 6 bytes of tags and lengths around them).
  const buffer = out.room(end - start + tail.length);
  const head = out.length;
  let at = head;
  let measured = false;
  let previousStart = 0;
  let previousEnd = 0;
  for (let p = start; p < end;) {
    if (bytes[p] !== LABEL_TAG) return false;
    const label = lengthAt(bytes, p + 1);
    if (label < 0) return false;
    p += 1 + (label & 7);
    const labelEnd = p + (label >>> 3);
    if (bytes[p] !== LABEL_TAG) return false;
    const name = lengthAt(bytes, p + 1);
    if (name < 0) return false;
    const nameStart = p + 1 + (name & 7);
    const nameEnd = nameStart + (name >>> 3);
    if (nameEnd === nameStart || nameEnd >= labelEnd || bytes[nameEnd] !== VALUE_TAG) return false;
    const value = lengthAt(bytes, nameEnd + 1);
    if (value < 0) return false;
    const valueStart = nameEnd + 1 + (value & 7);
    const valueEnd = valueStart + (value >>> 3);
    if (valueEnd !== labelEnd || valueStart === valueEnd) return false;
    if (previousEnd !== 0 && !before(bytes, previousStart, previousEnd, nameStart, nameEnd)) return false;
    previousStart = nameStart;
    previousEnd = nameEnd;
    p = labelEnd;

    if (equals(bytes, nameStart, nameEnd, METRIC_NAME)) {
      const length = valueEnd - valueStart;
      if (at > head) buffer.copyWithin(head + length, head, at);
      for (let i = valueStart, to = head; i < valueEnd; i++) {
        const c = bytes[i]!;
        if (CLASS[c]! >= 2) return false;
        buffer[to++] = c;
      }
      at += length;
      measured = true;
      continue;
    }
    if (reserved(bytes, nameStart, nameEnd)) return false;
    buffer[at++] = 44; // ,
    for (let i = nameStart; i < nameEnd; i++) {
      const c = bytes[i]!;
      if (CLASS[c] !== 0) return false;
      buffer[at++] = c;
    }
    buffer[at++] = 61; // =
    for (let i = valueStart; i < valueEnd; i++) {
      const c = bytes[i]!;
      if (CLASS[c] !== 0) return false;
      buffer[at++] = c;
    }
  }
  if (!measured) return false;
  buffer.set(tail, at);
  out.advance(at + tail.length);
  return true;
}

function reserved(bytes: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length !== 4 && length !== 6 && length !== 12) return false; // time, _field, _measurement
  for (let i = 0; i < RESERVED.length; i++) if (equals(bytes, start, end, RESERVED[i]!)) return true;
  return false;
}

/** bytes[aStart, aEnd) sorts strictly before bytes[bStart, bEnd) (ASCII: as the strings compare). */
function before(bytes: Uint8Array, aStart: number, aEnd: number, bStart: number, bEnd: number): boolean {
  const length = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < length; i++) {
    const a = bytes[aStart + i]!;
    const b = bytes[bStart + i]!;
    if (a !== b) return a < b;
  }
  return aEnd - aStart < bEnd - bStart;
}

function equals(bytes: Uint8Array, start: number, end: number, text: Uint8Array): boolean {
  if (end - start !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[start + i] !== text[i]) return false;
  return true;
}
