// Files on a directory that several replicas share (a swarm volume over NFS). Readers only ever
// see whole files: an upload streams into a private temp file in the same filesystem while its
// sha256 is computed, is fsynced, then renamed over the name in one atomic step.
//
// Layout under <dir>:   <name>          the files themselves (so nginx or `ls` can read them)
//                       .meta/<name>    {"sha256","size","ino"} written at upload time
//                       .tmp/<host>-<pid>-<uuid>   uploads in progress
// The sidecar is trusted only while its inode matches the file's: a concurrent upload of the same
// name may win the rename after the other wrote the sidecar, and then the hash is recomputed.
import { Buffer } from "node:buffer";
import { createHash, randomUUID } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { DomainError, isFailure } from "../errors.ts";
import { validateName } from "./names.ts";

export interface StoredFile {
  name: string;
  size: number;
  sha256: string;
  modified: Date;
}

export interface OpenedFile extends StoredFile {
  /** Streams bytes [start, end] (inclusive) from the already opened file, then closes it. */
  stream(start?: number, end?: number): ReadableStream<Uint8Array>;
  close(): Promise<void>;
}

export interface Staged {
  tmp: string;
  sha256: string;
  size: number;
  ino: number;
}

interface Sidecar {
  sha256: string;
  size: number;
  ino: number;
}

/** Writes are coalesced into chunks this big: fewer syscalls than the body's small chunks. */
const WRITE_CHUNK_BYTES = 1024 * 1024;
const READ_CHUNK_BYTES = 1024 * 1024;
/** Temp files untouched this long belong to a dead upload (Bun's idle timeout ends live ones sooner). */
const STALE_TEMP_MS = 10 * 60 * 1000;

export class FileStore {
  readonly metaDir: string;
  readonly tmpDir: string;
  private readonly hashCache = new Map<string, string>();
  private readonly tempPrefix = `${hostname()}-${process.pid}-`;

  constructor(readonly dir: string) {
    this.metaDir = join(dir, ".meta");
    this.tmpDir = join(dir, ".tmp");
  }

  async init(): Promise<void> {
    await mkdir(this.metaDir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
    await this.cleanupTemps();
  }

  /**
   * Removes temp files left by a crashed upload: those of a dead process on this host at once,
   * anyone's once stale (other replicas' live uploads keep their temp files fresh).
   */
  async cleanupTemps(): Promise<string[]> {
    const removed: string[] = [];
    const host = hostname();
    for (const entry of await readdir(this.tmpDir).catch(() => [] as string[])) {
      const path = join(this.tmpDir, entry);
      const [entryHost, pidText] = splitTempName(entry);
      const deadHere = entryHost === host && pidText !== undefined && !processAlive(Number(pidText));
      const info = await stat(path).catch(() => null);
      if (!info) continue;
      if (deadHere || Date.now() - info.mtimeMs > STALE_TEMP_MS) {
        await rm(path, { force: true });
        removed.push(entry);
      }
    }
    return removed;
  }

  /** Stores `body` as `name`, never exceeding `maxBytes`. */
  async put(
    name: string,
    body: AsyncIterable<Uint8Array>,
    maxBytes: number,
  ): Promise<StoredFile & { replaced: boolean }> {
    validateName(name);
    return await this.commit(name, await this.stage(body, maxBytes));
  }

  /**
   * Streams `body` into a private temp file (hashing as it goes) and fsyncs it; nothing is visible
   * until `commit`. Split from commit so a request carrying several files stores all or none.
   */
  async stage(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<Staged> {
    const tmp = join(this.tmpDir, `${this.tempPrefix}${randomUUID()}`);
    const hash = createHash("sha256");
    let size = 0;
    const handle = await open(tmp, "wx", 0o644);
    try {
      // One reused buffer per upload: incoming chunks are copied in and written 1 MiB at a time
      // (each write awaited before refilling), so a 2 GiB body leaves no garbage of its size.
      const buffer = Buffer.allocUnsafe(WRITE_CHUNK_BYTES); // no zero-fill: every byte written is set first
      let filled = 0;
      for await (const chunk of body) {
        size += chunk.byteLength;
        if (size > maxBytes) throw new DomainError("too_large", `file is over the limit of ${maxBytes} bytes`);
        hash.update(chunk);
        let offset = 0;
        while (offset < chunk.byteLength) {
          const take = Math.min(chunk.byteLength - offset, buffer.byteLength - filled);
          buffer.set(offset === 0 && take === chunk.byteLength ? chunk : chunk.subarray(offset, offset + take), filled);
          filled += take;
          offset += take;
          if (filled === buffer.byteLength) {
            await writeAll(handle, buffer);
            filled = 0;
          }
        }
      }
      if (filled > 0) await writeAll(handle, buffer.subarray(0, filled));
      await handle.sync();
      const { ino } = await handle.stat();
      await handle.close();
      return { tmp, sha256: hash.digest("hex"), size, ino };
    } catch (err) {
      await handle.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Makes a staged upload visible as `name` in one atomic rename, replacing any older version. */
  async commit(name: string, staged: Staged): Promise<StoredFile & { replaced: boolean }> {
    validateName(name);
    const target = join(this.dir, name);
    try {
      const replaced = await stat(target).then(() => true, () => false);
      await this.writeSidecar(name, { sha256: staged.sha256, size: staged.size, ino: staged.ino });
      await rename(staged.tmp, target);
      await syncDir(this.dir);
      const modified = (await stat(target).catch(() => null))?.mtime ?? new Date();
      return { name, size: staged.size, sha256: staged.sha256, modified, replaced };
    } catch (err) {
      await this.discard(staged);
      throw err;
    }
  }

  async discard(staged: Staged): Promise<void> {
    await rm(staged.tmp, { force: true });
  }

  /** Opens the current version of `name`; size and hash describe exactly the bytes it will stream. */
  async open(name: string): Promise<OpenedFile> {
    validateName(name);
    const handle = await open(join(this.dir, name), constants.O_RDONLY).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "EISDIR") {
        throw new DomainError("not_found", `no file named ${JSON.stringify(name)}`);
      }
      throw err;
    });
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new DomainError("not_found", `no file named ${JSON.stringify(name)}`);
      const sha256 = await this.hashOf(name, info, handle);
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        await handle.close().catch(() => {});
      };
      return {
        name,
        size: info.size,
        sha256,
        modified: info.mtime,
        close,
        stream: (start = 0, end = info.size - 1) => fileStream(handle, start, end, close),
      };
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  }

  async list(): Promise<StoredFile[]> {
    const files: StoredFile[] = [];
    for (const name of (await readdir(this.dir)).sort()) {
      if (name.startsWith(".")) continue;
      try {
        const file = await this.open(name);
        await file.close();
        files.push({ name: file.name, size: file.size, sha256: file.sha256, modified: file.modified });
      } catch (err) {
        if (!isFailure(err, "not_found")) throw err; // Deleted while listing.
      }
    }
    return files;
  }

  async delete(name: string): Promise<void> {
    validateName(name);
    await unlink(join(this.dir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") throw new DomainError("not_found", `no file named ${JSON.stringify(name)}`);
      throw err;
    });
    await rm(join(this.metaDir, name), { force: true });
    await syncDir(this.dir);
  }

  private async writeSidecar(name: string, sidecar: Sidecar): Promise<void> {
    const tmp = join(this.tmpDir, `${this.tempPrefix}${randomUUID()}.meta`);
    await writeFile(tmp, JSON.stringify(sidecar));
    await rename(tmp, join(this.metaDir, name));
  }

  private async hashOf(
    name: string,
    info: { ino: number; size: number; mtimeMs: number },
    handle: FileHandle,
  ): Promise<string> {
    // A version of a file is (inode, size, mtime): a replacement is a new inode, so a cached hash
    // can never describe other bytes. Saves the sidecar read on every GET of a known version.
    const key = `${name}\0${info.ino}\0${info.size}\0${info.mtimeMs}`;
    const cached = this.hashCache.get(key);
    if (cached) return cached;
    const sidecar = await readFile(join(this.metaDir, name), "utf8")
      .then((text) => JSON.parse(text) as Sidecar)
      .catch(() => null);
    let sha256: string;
    if (sidecar && sidecar.ino === info.ino && sidecar.size === info.size) {
      sha256 = sidecar.sha256;
    } else {
      // No trustworthy sidecar (lost a same-name race, or a file placed by hand): hash the bytes once.
      const hash = createHash("sha256");
      for await (
        const chunk of createReadStream(
          "",
          { fd: handle.fd, start: 0, autoClose: false, highWaterMark: READ_CHUNK_BYTES } as never,
        )
      ) {
        hash.update(chunk as Buffer);
      }
      sha256 = hash.digest("hex");
    }
    if (this.hashCache.size > 10_000) this.hashCache.clear();
    this.hashCache.set(key, sha256);
    return sha256;
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Pull-based stream over an open handle: reads only as fast as the client takes bytes. */
function fileStream(
  handle: FileHandle,
  start: number,
  end: number,
  close: () => Promise<void>,
): ReadableStream<Uint8Array> {
  let position = start;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const remaining = end - position + 1;
      if (remaining <= 0) {
        controller.close();
        await close();
        return;
      }
      const buffer = new Uint8Array(Math.min(READ_CHUNK_BYTES, remaining));
      try {
        const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, position);
        if (bytesRead === 0) throw new Error("file shrank while being read");
        position += bytesRead;
        controller.enqueue(bytesRead === buffer.byteLength ? buffer : buffer.subarray(0, bytesRead));
        if (position > end) {
          controller.close();
          await close();
        }
      } catch (err) {
        controller.error(err);
        await close();
      }
    },
    async cancel() {
      await close();
    },
  });
}

async function syncDir(dir: string): Promise<void> {
  // The rename itself must survive a crash, not only the file's bytes.
  const handle = await open(dir, constants.O_RDONLY).catch(() => null);
  if (!handle) return;
  await handle.sync().catch(() => {}); // Some filesystems (and NFS clients) refuse fsync on dirs.
  await handle.close();
}

function splitTempName(entry: string): [string | undefined, string | undefined] {
  // <host>-<pid>-<uuid>[.meta]; host names may contain '-', the uuid has exactly four.
  const parts = entry.replace(/\.meta$/, "").split("-");
  if (parts.length < 7) return [undefined, undefined];
  const pid = parts[parts.length - 6];
  const host = parts.slice(0, parts.length - 6).join("-");
  return [host, pid];
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
