// Small blobs kept in memory. A blob is named by its sha256 and never changes, so a copy in memory
// can never be stale: no invalidation, whatever other replicas do. Serving a 4 KiB file from memory
// skips the open/sendfile/close a file response costs, which for small files is most of the work.
// Bounded by entry size and by total bytes;
// least recently used go first. Kept as Blobs: a Response over a Blob shares its bytes, where one
// over a Uint8Array copies them.
import { readFile } from "node:fs/promises";

export class SmallBlobs {
  private readonly entries = new Map<string, Blob>();
  private total = 0;

  constructor(
    readonly maxEntryBytes = 64 * 1024,
    readonly maxTotalBytes = 32 * 1024 * 1024,
  ) {}

  /** The blob's bytes when it is small enough to keep (read once), otherwise undefined. */
  async bytes(sha256: string, path: string, size: number): Promise<Blob | undefined> {
    if (size > this.maxEntryBytes) return undefined;
    const cached = this.entries.get(sha256);
    if (cached !== undefined) {
      this.entries.delete(sha256); // most recently used goes last
      this.entries.set(sha256, cached);
      return cached;
    }
    const read = await readFile(path);
    if (read.byteLength !== size) return undefined; // not the blob the caller resolved: serve the file
    const bytes = new Blob([read]);
    this.entries.set(sha256, bytes);
    this.total += bytes.size;
    for (const [oldest, old] of this.entries) {
      if (this.total <= this.maxTotalBytes) break;
      this.entries.delete(oldest);
      this.total -= old.size;
    }
    return bytes;
  }
}
