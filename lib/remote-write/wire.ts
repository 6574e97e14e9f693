// The protobuf wire primitives both parsers are made of, on top of protobufjs' Reader: tags checked
// against a message's known fields, fields skipped, varints, doubles and length-delimited strings
// read with the bounds checks a truncated or overlong field needs (RangeError: parseMessage in
// decode.ts makes it a 400).
import { Buffer } from "node:buffer";
import type protobuf from "protobufjs";

export type Reader = protobuf.Reader;

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH = 2;
export const [VAR, F64, LEN] = [WIRE_VARINT, WIRE_FIXED64, WIRE_LENGTH];

// Tags are read with Reader.tag(): at most 5 bytes and 32 bits, as protobuf's decoders require (a
// longer varint is not a tag). The wire types each known field may come with (repeated numbers: one
// by one, or packed). A known field with another wire type is refused, as Prometheus' own
// (gogo-generated) decoder refuses it; unknown fields are skipped, as newer senders may add some.
// Field 0 does not exist.
export type Wires = Readonly<Record<number, readonly number[]>>;

// proto3 strings are UTF-8: invalid bytes make the message invalid (400), as protobuf's own decoders
// say, rather than labels silently rewritten with U+FFFD.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Label strings: ASCII ones (nearly all) are cut from one latin1 view of the whole buffer by a
 * native slice; any byte >= 0x80 means real UTF-8, decoded strictly.
 */
export class StringReader {
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

/** Moves past a length-delimited string; returns where its bytes start. */
export function skipString(r: Reader): number {
  const length = r.uint32();
  const from = r.pos;
  if (from + length > r.len) throw new RangeError(`index out of range: string of ${length} bytes beyond the message`);
  r.pos = from + length;
  return from;
}

/**
 * Skips the field whose tag was just read. A group (wire type 3, long deprecated) must end with the
 * end-group tag of the same field number; an end-group tag alone is invalid.
 */
export function skipField(r: Reader, tag: number): void {
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
export function readTag(r: Reader, wires: Wires): number {
  return checkTag(r.tag(), wires);
}

export function checkTag(tag: number, wires: Wires): number {
  const field = tag >>> 3;
  if (field === 0) throw new RangeError("illegal field number 0");
  const allowed = wires[field];
  if (allowed !== undefined && !allowed.includes(tag & 7)) {
    throw new RangeError(`field ${field} cannot have wire type ${tag & 7}`);
  }
  return tag;
}

/** int64 varint as a JS number; the fast path covers every millisecond timestamp until year 10889. */
export function readInt64(r: Reader): number {
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

/** A double in a wire-format FIXED64 field (counts, sums, bounds: NaN payloads do not matter here). */
export function readDouble(r: Reader): number {
  if (r.pos + 8 > r.len) throw new RangeError("index out of range: truncated double");
  return r.double();
}

export function readSint64(r: Reader): number {
  const long = r.sint64() as unknown as number | { toNumber(): number };
  return typeof long === "number" ? long : long.toNumber();
}

export function readUint64(r: Reader): number {
  const long = r.uint64() as unknown as number | { toNumber(): number };
  return typeof long === "number" ? long : long.toNumber();
}

/** A repeated scalar field, packed (one LENGTH field) or not (one field per value). */
export function readRepeated(r: Reader, wire: number, one: () => number, into: number[]): void {
  if (wire !== WIRE_LENGTH) {
    into.push(one());
    return;
  }
  const end = r.uint32() + r.pos;
  checkEnd(r, end);
  while (r.pos < end) into.push(one());
  if (r.pos !== end) throw new RangeError("packed field overruns its message");
}

export function checkEnd(r: Reader, end: number): void {
  if (end > r.len) throw new RangeError(`index out of range: message length ${end} beyond ${r.len}`);
}
