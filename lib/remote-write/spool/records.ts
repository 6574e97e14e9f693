// A spooled request on disk: [payload length, u32 LE][CRC-32 of the payload, u32 LE][payload]. A
// record cut short (the process died before its fsync, so it was never acknowledged) or whose checksum
// fails ends its segment: a writer never appends after a failed append, so nothing after it was
// acknowledged either.
import { crc32 } from "./crc32.ts";

export const RECORD_HEADER_BYTES = 8;

export function recordHeader(payload: Uint8Array): Uint8Array {
  const header = new Uint8Array(RECORD_HEADER_BYTES);
  const view = new DataView(header.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32(payload), true);
  return header;
}

/** The whole records of a segment, in the order they were appended. */
export function* records(segment: Uint8Array): Generator<Uint8Array> {
  const view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
  let at = 0;
  while (at + RECORD_HEADER_BYTES <= segment.length) {
    const length = view.getUint32(at, true);
    const end = at + RECORD_HEADER_BYTES + length;
    if (end > segment.length) return;
    const payload = segment.subarray(at + RECORD_HEADER_BYTES, end);
    if (crc32(payload) !== view.getUint32(at + 4, true)) return;
    yield payload;
    at = end;
  }
}
