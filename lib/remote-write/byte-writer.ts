// The line-protocol body being built, as bytes.
/**
 * A growable byte buffer; strings written with `sample` must be ASCII (numbers are). A receiver's
 * writer is reused by every conversion (they run synchronously, one at a time) and keeps the size it
 * grew to, so a body costs one exact-size copy instead of repeated doubling.
 */
const encoder = new TextEncoder();

export class ByteWriter {
  private buffer: Uint8Array;
  private used = 0;

  constructor(capacity = 64 * 1024) {
    this.buffer = new Uint8Array(capacity);
  }

  get length(): number {
    return this.used;
  }

  reset(): void {
    this.used = 0;
  }

  /** Forgets everything written after `length` (a line begun and then not wanted). */
  truncate(length: number): void {
    this.used = length;
  }

  /** The buffer, with room for `bytes` more from `length` on; write them, then `advance`. */
  room(bytes: number): Uint8Array {
    if (this.used + bytes > this.buffer.length) {
      const bigger = new Uint8Array(Math.max(this.buffer.length * 2, this.used + bytes));
      bigger.set(this.buffer.subarray(0, this.used));
      this.buffer = bigger;
    }
    return this.buffer;
  }

  /** Marks the bytes written into `room()` up to `length` as written. */
  advance(length: number): void {
    this.used = length;
  }

  bytes(bytes: Uint8Array): void {
    this.room(bytes.length).set(bytes, this.used);
    this.used += bytes.length;
  }

  /** Writes again what was written at [start, end), e.g. a series' prefix for its next sample. */
  repeat(start: number, end: number): void {
    this.room(end - start).copyWithin(this.used, start, end);
    this.used += end - start;
  }

  /** The ASCII text, then tail: the end of a sample's line. */
  sample(text: string, tail: Uint8Array): void {
    const buffer = this.room(text.length + tail.length);
    let at = this.used;
    for (let i = 0; i < text.length; i++) buffer[at++] = text.charCodeAt(i);
    for (let i = 0; i < tail.length; i++) buffer[at++] = tail[i]!;
    this.used = at;
  }

  /** Any text (UTF-8), e.g. whole lines of the rarer kinds. */
  text(text: string): void {
    this.room(text.length * 3);
    this.used += encoder.encodeInto(text, this.buffer.subarray(this.used)).written;
  }

  /** A copy of what was written: the scratch buffer is reused by the next conversion. */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.used);
  }
}
