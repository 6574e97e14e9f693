// The sha256 of a body seen chunk by chunk. A body that comes as one chunk (a form read whole: every
// upload up to a few MiB) is hashed by WebCrypto, which Bun runs on a pool thread while the disk
// writes the same bytes; the main thread, which also receives and answers every request, is spared
// the hash (a large share of a small upload's time there). A body of more chunks is hashed
// as they come, on the main thread: WebCrypto has no incremental digest.
import { Buffer } from "node:buffer";
import { createHash, type Hash } from "node:crypto";

export class BodyHash {
  private only: Uint8Array | undefined;
  private incremental: Hash | undefined;

  /** Adds the next chunk; it must not change until `hex` has resolved. */
  add(chunk: Uint8Array): void {
    if (this.incremental) {
      this.incremental.update(chunk);
    } else if (this.only === undefined) {
      this.only = chunk;
    } else {
      this.incremental = createHash("sha256").update(this.only).update(chunk);
      this.only = undefined;
    }
  }

  /** The digest of every chunk added, in hex. */
  async hex(): Promise<string> {
    const only = this.only ?? new Uint8Array();
    // WebCrypto takes views of an ArrayBuffer only (not of a SharedArrayBuffer).
    if (this.incremental || !(only.buffer instanceof ArrayBuffer)) {
      return (this.incremental ?? createHash("sha256").update(only)).digest("hex");
    }
    const digest = await crypto.subtle.digest("SHA-256", only as Uint8Array<ArrayBuffer>);
    return Buffer.from(digest).toString("hex");
  }
}
