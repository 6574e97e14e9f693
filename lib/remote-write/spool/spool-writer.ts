// Appends accepted requests to this process' open segment, each fsynced before it is acknowledged.
// A segment is sealed (closed, which drops the writer's lock: the replayer takes it then) once it is
// big enough, old enough, or idle, and when the process stops. Appends are serialised: records never
// interleave. A failed append is cut off again and its segment sealed as it was, so a segment never
// has a record after a broken one (records.ts).
import { randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, stat } from "node:fs/promises";
import { join } from "node:path";
import { syncDir } from "../../disk/directory-sync.ts";
import { RECORD_HEADER_BYTES, recordHeader } from "./records.ts";
import { segmentName, spoolUsage } from "./segments.ts";
import { tryLock } from "./file-lock.ts";

export interface SpoolWriterOptions {
  /** Past this many bytes on disk (every writer's segments together) appends are refused. */
  maxBytes: number;
  /** A segment is sealed once it holds this many bytes... */
  segmentBytes: number;
  /** ...or once its first record is this old, or no record came for this long. */
  sealAfterMs: number;
}

/** Why an append was refused: the spool is at its bound or its disk is full. Nothing was acknowledged. */
export class SpoolFullError extends Error {}

interface OpenSegment {
  file: FileHandle;
  name: string;
  bytes: number;
  createdMs: number;
}

export class SpoolWriter {
  private readonly writer = `${process.pid.toString(36)}${randomBytes(4).toString("hex")}`;
  private current: OpenSegment | undefined;
  private segments = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private idle: ReturnType<typeof setTimeout> | undefined;
  /** Bytes on disk at the last look plus what this writer appended since (refreshed at most every second). */
  private usage = { bytes: 0, atMs: 0 };

  constructor(readonly dir: string, private readonly options: SpoolWriterOptions) {}

  /** Resolves once `payload` is on disk in a segment; throws SpoolFullError when it is refused. */
  append(payload: Uint8Array): Promise<void> {
    return this.serially(() => this.appendNow(payload));
  }

  /** Hands the open segment to the replayer now (stop, or the sink writing directly again). */
  seal(): Promise<void> {
    return this.serially(() => this.sealNow());
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const done = this.queue.then(work);
    this.queue = done.catch(() => undefined);
    return done;
  }

  private async appendNow(payload: Uint8Array): Promise<void> {
    const size = RECORD_HEADER_BYTES + payload.length;
    const used = await this.usedBytes();
    if (used + size > this.options.maxBytes) {
      throw new SpoolFullError(`spool full: ${used} bytes held, at most ${this.options.maxBytes}`);
    }
    const segment = this.current ?? (this.current = await this.openSegment());
    try {
      await writeAll(segment.file, recordHeader(payload), segment.bytes);
      await writeAll(segment.file, payload, segment.bytes + RECORD_HEADER_BYTES);
      await segment.file.datasync();
    } catch (err) {
      await segment.file.truncate(segment.bytes).catch(() => undefined);
      await this.sealNow();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOSPC" || code === "EDQUOT") throw new SpoolFullError(`spool disk full (${code})`);
      throw err;
    }
    segment.bytes += size;
    this.usage.bytes += size;
    const now = Date.now();
    if (segment.bytes >= this.options.segmentBytes || now - segment.createdMs >= this.options.sealAfterMs) {
      await this.sealNow();
    } else {
      clearTimeout(this.idle);
      this.idle = setTimeout(() => void this.seal().catch(() => undefined), this.options.sealAfterMs);
      this.idle.unref?.();
    }
  }

  private async usedBytes(): Promise<number> {
    if (Date.now() - this.usage.atMs >= 1000) {
      this.usage = { bytes: (await spoolUsage(this.dir)).bytes, atMs: Date.now() };
    }
    return this.usage.bytes;
  }

  /**
   * A new segment, locked. Between its creation and the lock the replayer may take it for one whose
   * writer died (unlocked) and remove it, empty: so it is ours only if, once locked, it is still the
   * file at its name; otherwise another one is made.
   */
  private async openSegment(): Promise<OpenSegment> {
    await mkdir(this.dir, { recursive: true });
    for (let attempt = 1;; attempt++) {
      const createdMs = Date.now();
      // The writer's own count after its id: unique, and in append order among its segments of one ms.
      const name = segmentName(createdMs, `${this.writer}${(this.segments++).toString(36).padStart(6, "0")}`);
      const path = join(this.dir, name);
      const file = await open(path, "wx");
      const ours = tryLock(file) &&
        (await file.stat()).ino === (await stat(path).then((s) => s.ino, () => -1));
      if (!ours) {
        await file.close();
        if (attempt < 5) continue;
        throw new Error(`${path}: taken by another process as it was made, ${attempt} times`);
      }
      await syncDir(this.dir);
      return { file, name, bytes: 0, createdMs };
    }
  }

  private async sealNow(): Promise<void> {
    clearTimeout(this.idle);
    const segment = this.current;
    if (!segment) return;
    this.current = undefined;
    await segment.file.close(); // drops the lock: the replayer's now (an empty one it just removes)
  }
}

/** write(2) may write less than asked (a disk filling up): the rest is written, or its error thrown. */
async function writeAll(file: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten === 0) throw Object.assign(new Error("no byte written"), { code: "ENOSPC" });
    done += bytesWritten;
  }
}
