// Writes an upload's bytes into its staged file. Where the filesystem takes it, the file is opened with
// O_DIRECT (as object stores such as MinIO write objects): the bytes go from one reused buffer to the
// disk, which the fsync that follows waits for anyway, instead of being copied into the page cache
// first. That copy was most of an upload's kernel time, and it fills memory with pages of files nobody
// has asked for yet; a download reads the blob into the cache when it is wanted.
//
// Direct I/O needs the buffer's address, every write's offset and its length aligned to the device's
// block: the bytes are gathered in a 4 KiB-aligned buffer of 1 MiB and written whole; the last block
// is padded with zeros and the file truncated back to its size. Where the address cannot be known
// (no `bun:ffi`, as under Deno) or the filesystem refuses O_DIRECT (EINVAL at open), the
// file is written through the page cache as before.
import { Buffer } from "node:buffer";
import { constants } from "node:fs";
import { dirname } from "node:path";
import { type OpenFile, openInPlace } from "./open-file.ts";

/** Bytes gathered per write (and the size of each pooled buffer). */
export const WRITE_CHUNK_BYTES = 1024 * 1024;
/** Alignment that satisfies every block size Linux allows for direct I/O (512 B to 4 KiB). */
const ALIGN = 4096;
/** Buffers kept for reuse: one per upload in flight, up to this many (1 MiB each). */
const POOL_LIMIT = 16;

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
const DIRECT: number | undefined = constants.O_DIRECT;

export interface StagingWriter {
  /** The file, opened in place (open-file.ts: an open must not wait behind other uploads' fsyncs). */
  readonly handle: OpenFile;
  /** Whether the file was opened with O_DIRECT. */
  readonly direct: boolean;
  /** Appends `chunk` (copied or written before this resolves: the caller may reuse it). */
  write(chunk: Uint8Array): Promise<void>;
  /** Writes what is gathered; the file then holds exactly the bytes written, not yet fsynced. */
  finish(): Promise<void>;
  /** Gives the buffer back (after finish or on failure); the handle stays the caller's to close. */
  release(): void;
}

/**
 * Creates `path` (which must not exist, mode 0644) for writing: directly where possible unless `direct`
 * is false. Directories that refuse O_DIRECT are remembered.
 */
export async function createStagingWriter(path: string, { direct = true } = {}): Promise<StagingWriter> {
  const dir = dirname(path);
  const address = direct ? await addressOf() : undefined;
  if (address && DIRECT !== undefined && !refusesDirect.has(dir)) {
    try {
      return new DirectWriter(openInPlace(path, CREATE | DIRECT, 0o644), address);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw err;
      refusesDirect.add(dir); // as tmpfs before Linux 6.6 and some FUSE filesystems do, at open
    }
  }
  return new BufferedWriter(openInPlace(path, CREATE, 0o644));
}

const refusesDirect = new Set<string>();

class DirectWriter implements StagingWriter {
  readonly direct = true;
  private buffer: Uint8Array | undefined;
  private filled = 0;
  private position = 0;

  constructor(readonly handle: OpenFile, private readonly address: (view: Uint8Array) => number) {}

  async write(chunk: Uint8Array): Promise<void> {
    const buffer = this.buffer ??= takeAligned(this.address);
    this.filled = await gather(chunk, buffer, this.filled, () => this.flush(buffer.byteLength));
  }

  async finish(): Promise<void> {
    if (this.filled === 0) return;
    const size = this.position + this.filled;
    const padded = Math.ceil(this.filled / ALIGN) * ALIGN;
    this.buffer!.fill(0, this.filled, padded);
    await this.flush(padded);
    this.filled = 0;
    await this.handle.truncate(size);
    this.position = size;
  }

  release(): void {
    if (this.buffer) giveBack(this.buffer);
    this.buffer = undefined;
  }

  private async flush(length: number): Promise<void> {
    const bytesWritten = await this.handle.write(this.buffer!, 0, length, this.position);
    // A direct write is all or nothing but for a device that runs out of room part-way; the rest
    // cannot follow at an unaligned offset, and running out of room is what it means.
    if (bytesWritten !== length) throw Object.assign(new Error("short direct write"), { code: "ENOSPC" });
    this.position += length;
  }
}

/** Through the page cache: small chunks gathered into 1 MiB writes, big ones written as they are. */
class BufferedWriter implements StagingWriter {
  readonly direct = false;
  private buffer: Buffer | undefined;
  private filled = 0;

  constructor(readonly handle: OpenFile) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.filled === 0 && chunk.byteLength >= WRITE_CHUNK_BYTES / 4) return writeAll(this.handle, chunk);
    const into = this.buffer ??= Buffer.allocUnsafe(WRITE_CHUNK_BYTES); // each byte is set before it is written
    this.filled = await gather(chunk, into, this.filled, () => writeAll(this.handle, into));
  }

  async finish(): Promise<void> {
    if (this.filled > 0) await writeAll(this.handle, this.buffer!.subarray(0, this.filled));
    this.filled = 0;
  }

  release(): void {
    this.buffer = undefined;
  }
}

/**
 * Copies `chunk` into `buffer` after its first `filled` bytes, calling `full` each time the buffer is
 * full (it is then refilled from the start); gives back how much of the buffer is filled.
 */
async function gather(
  chunk: Uint8Array,
  buffer: Uint8Array,
  filled: number,
  full: () => Promise<void>,
): Promise<number> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const take = Math.min(chunk.byteLength - offset, buffer.byteLength - filled);
    buffer.set(offset === 0 && take === chunk.byteLength ? chunk : chunk.subarray(offset, offset + take), filled);
    filled += take;
    offset += take;
    if (filled === buffer.byteLength) {
      await full();
      filled = 0;
    }
  }
  return filled;
}

async function writeAll(handle: OpenFile, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    offset += await handle.write(chunk, offset, chunk.byteLength - offset, null);
  }
}

// Aligned buffers: a little more than needed is allocated and the view starts at the first aligned
// address in it. Reused, so the memory they sit on is touched once.
const pool: Uint8Array[] = [];

function takeAligned(address: (view: Uint8Array) => number): Uint8Array {
  const reused = pool.pop();
  if (reused) return reused;
  const raw = new Uint8Array(WRITE_CHUNK_BYTES + ALIGN);
  const start = (ALIGN - (address(raw) % ALIGN)) % ALIGN;
  return raw.subarray(start, start + WRITE_CHUNK_BYTES);
}

function giveBack(buffer: Uint8Array): void {
  if (pool.length < POOL_LIMIT) pool.push(buffer);
}

let addressLookup: Promise<((view: Uint8Array) => number) | undefined> | undefined;

/** `bun:ffi`'s `ptr` (a view's address) where the runtime is Bun; undefined elsewhere. */
function addressOf(): Promise<((view: Uint8Array) => number) | undefined> {
  return addressLookup ??= (async () => {
    if (!("Bun" in globalThis)) return undefined;
    const specifier = "bun:ffi"; // not a literal: other runtimes' module graphs need not resolve it
    try {
      const ffi = await import(specifier) as { ptr(view: Uint8Array): number };
      return (view: Uint8Array) => ffi.ptr(view);
    } catch {
      return undefined;
    }
  })();
}
