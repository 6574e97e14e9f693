// The line-protocol body being built, as bytes.
/**
 * A growable byte buffer; strings written with `ascii` must be ASCII (numbers are). A receiver's
 * writer (its SeriesMemory's) is reused by every conversion (they run synchronously, one at a time)
 * and keeps the size it grew to, so a body costs one exact-size copy instead of repeated doubling.
 */
const encoder = new TextEncoder();

export class ByteWriter {
  private buffer: Uint8Array;
  private length = 0;

  constructor(capacity: number) {
    this.buffer = new Uint8Array(capacity);
  }

  reset(): void {
    this.length = 0;
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const bigger = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes));
    bigger.set(this.buffer.subarray(0, this.length));
    this.buffer = bigger;
  }

  /** head, then the ASCII text, then tail: one line, one capacity check. */
  line(head: Uint8Array, text: string, tail: Uint8Array): void {
    this.reserve(head.length + text.length + tail.length);
    const buffer = this.buffer;
    buffer.set(head, this.length);
    let at = this.length + head.length;
    for (let i = 0; i < text.length; i++) buffer[at++] = text.charCodeAt(i);
    for (let i = 0; i < tail.length; i++) buffer[at++] = tail[i]!;
    this.length = at;
  }

  /** Any text (UTF-8), e.g. whole lines of the rarer kinds. */
  text(text: string): void {
    this.reserve(text.length * 3);
    this.length += encoder.encodeInto(text, this.buffer.subarray(this.length)).written;
  }

  /** A copy of what was written: the scratch buffer is reused by the next conversion. */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}
