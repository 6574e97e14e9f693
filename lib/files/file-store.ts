// Files on a directory that several replicas share (a swarm volume over NFS), content-addressed:
//
//   blobs/ab/abcdef...   each version's bytes, once, immutable, named by their sha256
//   names/<name>         a symlink to ../blobs/ab/<sha256>: the name's current version
//   tmp/                 uploads being received, pointers being made, the clock's probe for a moment
//                        (<host>-<pid>-<uuid>[.suffix]; store-clock.ts)
//   gc/                  the collector's marks and lock (blob-collector.ts)
//   uploads/             resumable (tus) uploads in progress (resumable-uploads.ts)
//
// An upload streams into tmp/ while its sha256 is computed, is fsynced, becomes its blob (a hard link,
// or a touch when those bytes are already stored), and only then is the name pointed at it, by
// renaming a new symlink over the old one: readers see the old version or the new one, whole.
// Since a blob never changes, a reader can hand its path to the kernel (sendfile) and its ETag is
// its name. Blobs no name points to are removed by the collector (blob-collector.ts); what a writer
// does for it: touch the blob before pointing a name at it (`adopt`), and keep its own staged copy
// until the name is in place and the blob checked to be there (`settle`).
import { Buffer } from "node:buffer";
import { createHash, randomUUID } from "node:crypto";
import {
  constants,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { type FileHandle, lstat, mkdir, open, readdir, readlink, rename, rm, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { DomainError } from "@tarsd/sdk";
import { DirectorySync } from "./directory-sync.ts";
import { storageErrors } from "./disk-full.ts";
import { validateName } from "./names.ts";
import type { OpenFile } from "./open-file.ts";
import { createStagingWriter } from "./staging-writer.ts";
import { BodyHash } from "./body-hash.ts";
import { type Clock, stamp, storeClock, touchNow } from "./store-clock.ts";

export interface StoredFile {
  name: string;
  size: number;
  sha256: string;
  /** When the name was last pointed at a version. */
  modified: Date;
}

/** A name resolved to its blob: what a reader serves, immutable whatever happens to the name. */
export interface ResolvedFile extends StoredFile {
  /** The blob's path: its bytes never change while it exists. */
  path: string;
}

export interface OpenedFile extends ResolvedFile {
  /** Streams bytes [start, end] (inclusive) from the already opened blob, then closes it. */
  stream(start?: number, end?: number): ReadableStream<Uint8Array>;
  close(): Promise<void>;
}

/** Bytes received and fsynced in tmp/, not yet a blob. */
export interface Staged {
  tmp: string;
  sha256: string;
  size: number;
  /**
   * The staged file, still open and not yet fsynced (`stage` leaves it so): `adopt` fsyncs it only
   * when it becomes a new blob. When the same bytes are stored already, that blob is durable and the
   * staged copy is only thrown away: no fsync is waited for. Absent: the bytes are durable already.
   */
  unsynced?: OpenFile;
  /** The staged file being closed (set once `adopt` or `discard` starts closing it). */
  closing?: Promise<void>;
}

export const READ_CHUNK_BYTES = 1024 * 1024;
/**
 * Temp files untouched this long (by the store's clock: store-clock.ts) belong to a dead upload (Bun's
 * idle timeout ends live ones sooner).
 */
const STALE_TEMP_MS = 10 * 60 * 1000;
const SHA256 = /^[0-9a-f]{64}$/;

/** Whether a file name in blobs/ is a blob's (a sha256 in hex). */
export const isSha256 = (name: string): boolean => SHA256.test(name);

export interface FileStoreOptions {
  /**
   * The directory's own time, that file times are compared with (by this store, the blob collector
   * and resumable uploads). Default: read from the directory itself (store-clock.ts), never this
   * host's clock. Tests give one that disagrees with Date.now().
   */
  clock?: Clock;
}

export class FileStore {
  readonly blobsDir: string;
  readonly namesDir: string;
  readonly tmpDir: string;
  readonly gcDir: string;
  readonly uploadsDir: string;
  private readonly tempPrefix = `${hostname()}-${process.pid}-`;
  /** Blob sizes: a blob never changes, so its size is looked up once. */
  private readonly sizes = new Map<string, number>();
  private readonly directorySyncs = new Map<string, DirectorySync>();
  /** Where each name pointed when last resolved here, and since when. */
  private readonly pointers = new Map<string, { target: string; modified: Date }>();
  /** The store's clock (store-clock.ts): the only time file times are compared with. */
  readonly clock: Clock;

  constructor(readonly dir: string, options: FileStoreOptions = {}) {
    this.blobsDir = join(dir, "blobs");
    this.namesDir = join(dir, "names");
    this.tmpDir = join(dir, "tmp");
    this.gcDir = join(dir, "gc");
    this.uploadsDir = join(dir, "uploads");
    this.clock = options.clock ?? storeClock(() => this.tempPath(".clock"));
  }

  async init(): Promise<void> {
    for (const dir of [this.blobsDir, this.namesDir, this.tmpDir, this.gcDir, this.uploadsDir]) {
      await mkdir(dir, { recursive: true });
    }
    await this.cleanupTemps();
  }

  blobPath(sha256: string): string {
    return join(this.blobsDir, sha256.slice(0, 2), sha256);
  }

  /** A fresh path in tmp/ that names this process (so a restart can tell its own leftovers). */
  tempPath(suffix = ""): string {
    return join(this.tmpDir, `${this.tempPrefix}${randomUUID()}${suffix}`);
  }

  /**
   * Removes temp files left by a crashed upload: those of a dead process on this host at once,
   * anyone's once stale by the store's clock (other replicas' live uploads keep their temp files
   * fresh). A store whose clock cannot be read (a probe file cannot be made) has none judged stale.
   */
  async cleanupTemps(): Promise<string[]> {
    const removed: string[] = [];
    const host = hostname();
    // Before any file's time is looked at (they can only look younger than they are).
    const now = await this.clock().catch(() => undefined);
    for (const entry of await readdir(this.tmpDir).catch(() => [] as string[])) {
      const path = join(this.tmpDir, entry);
      const [entryHost, pidText] = splitTempName(entry);
      const deadHere = entryHost === host && pidText !== undefined && !processAlive(Number(pidText));
      const info = await lstat(path).catch(() => null);
      if (!info) continue;
      if (deadHere || (now !== undefined && now - info.mtimeMs > STALE_TEMP_MS)) {
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
    const [stored] = await this.commit([{ name, staged: await this.stage(body, maxBytes) }]);
    return stored!;
  }

  /**
   * Streams `body` into a private temp file (hashing as it goes), left open for `adopt` to fsync;
   * nothing is visible until `commit`. Split from commit so a request carrying several files stores
   * all or none. The caller commits or discards what it staged. Each chunk's write is in flight while
   * the next chunk is read and while the hash runs: the disk's wait overlaps the rest. So a chunk is
   * read after the body has handed on the next one: `body` must give each chunk memory of its own.
   */
  async stage(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<Staged> {
    const tmp = this.tempPath();
    const hash = new BodyHash();
    let size = 0;
    const writer = await storageErrors(() => createStagingWriter(tmp));
    let writing: Promise<void> | undefined;
    let digest: Promise<string> | undefined;
    try {
      for await (const chunk of body) {
        size += chunk.byteLength;
        if (size > maxBytes) throw new DomainError("too_large", `file is over the limit of ${maxBytes} bytes`);
        await writing; // one write at a time: the writer gathers into one buffer
        writing = storageErrors(() => writer.write(chunk));
        hash.add(chunk);
      }
      digest = hash.hex();
      await writing;
      await storageErrors(() => writer.finish());
      return { tmp, sha256: await digest, size, unsynced: writer.handle };
    } catch (err) {
      // The buffer goes back to the pool only once no write reads from it.
      await Promise.allSettled([writing, digest]);
      await writer.handle.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    } finally {
      writer.release();
    }
  }

  /**
   * Makes the staged bytes the blob of their hash, and fresh for the collector: an existing blob is
   * touched, a missing one is made as a hard link to the staged file once that is fsynced (a blob
   * is always durable: identical uploads are stored once, and point at it without an fsync of
   * their own). The staged file stays until `settle`: until a name points at the blob, this writer
   * can always put the bytes back, whatever a collector pass does meanwhile.
   *
   * Its metadata calls (touch, link, and in `stage`, `commit` and `settle` the staged file's creation,
   * the pointer's symlink and rename, readlink and unlink) are made in place: tens of microseconds
   * in the kernel on a local disk, where a promise-based call waits in the thread pool's queue behind
   * the uploads' fsyncs and direct writes, 3 ms on average (measured: 1 MiB uploads at c=8). What
   * waits for the disk (fsync, writes, close) stays in the pool. On NFS each in-place call is a round
   * trip the event loop waits for; on a disk where many files were just deleted an inode takes up to
   * a millisecond to find (ext4 without a journal skips those freed in the last minute).
   */
  async adopt(staged: Staged): Promise<string> {
    const blob = this.blobPath(staged.sha256);
    // The touch and a new blob's time are the file server's (store-clock.ts): the collector compares
    // them with its marks, which are in the store's time, not with this host's clock.
    if (!(await storageErrors(() => touchNow(blob)))) {
      // the bytes and the size (the mtime need not be durable)
      if (staged.unsynced) await storageErrors(() => staged.unsynced!.datasync());
      // A tus upload's bytes or an older layout's file may be hours old: the new blob is fresh.
      await storageErrors(() => staged.unsynced ? stamp(staged.unsynced.fd) : touchNow(staged.tmp));
      await this.linkBlob(staged);
    }
    closeStaged(staged);
    this.sizes.set(staged.sha256, staged.size);
    return blob;
  }

  /**
   * After the names point at the blob: makes sure it is there (a collector pass that took it before
   * it saw the new name is undone from the staged copy), then drops the staged copy.
   */
  async settle(staged: Staged): Promise<void> {
    if (!statSync(this.blobPath(staged.sha256), { throwIfNoEntry: false })) await this.linkBlob(staged);
    await staged.closing;
    rmSync(staged.tmp, { force: true });
  }

  private async linkBlob(staged: Staged): Promise<void> {
    const prefix = join(this.blobsDir, staged.sha256.slice(0, 2));
    const blob = this.blobPath(staged.sha256);
    const madeDirectory = await storageErrors(() => {
      if (linkOnce(staged.tmp, blob) === "made") return false;
      mkdirSync(prefix, { recursive: true }); // the first blob of this prefix
      if (linkOnce(staged.tmp, blob) !== "made") throw new Error(`${prefix} is missing right after it was made`);
      return true;
    });
    // A new prefix directory is an entry of blobs/ that must be durable too before a name points in it.
    await Promise.all([this.syncDirectory(prefix), madeDirectory ? this.syncDirectory(this.blobsDir) : undefined]);
  }

  /**
   * Points each name at its staged bytes, all or none: every blob is adopted and every new pointer
   * (and the pointer each replaced name had, for undoing) is made in tmp/ first, which is where a
   * full disk fails; then the pointers are renamed into names/ one by one, and if one rename fails
   * the ones already made are put back. A reader may see the first names of a request a moment
   * before the last; after the request every name is new, or every name is as it was.
   */
  async commit(files: { name: string; staged: Staged }[]): Promise<(StoredFile & { replaced: boolean })[]> {
    const leftovers: string[] = []; // pointers made in tmp/ and not (or no longer) needed
    try {
      const steps = [];
      for (const { name, staged } of files) {
        validateName(name);
        const target = join(this.namesDir, name);
        const pointer = this.tempPath(".link");
        await this.adopt(staged);
        await storageErrors(() => symlinkSync(pointerTarget(staged.sha256), pointer));
        leftovers.push(pointer);
        const previous = readlinkOrUndefined(target);
        // Undoing is for requests of several names; one name alone has nothing to undo.
        let undo: string | undefined;
        if (previous !== undefined && files.length > 1) {
          undo = this.tempPath(".link");
          await storageErrors(() => symlinkSync(previous, undo!));
          leftovers.push(undo);
        }
        steps.push({ name, staged, target, pointer, undo, replaced: previous !== undefined });
      }
      const done: typeof steps = [];
      try {
        for (const step of steps) {
          await storageErrors(() => renameSync(step.pointer, step.target));
          done.push(step);
        }
      } catch (err) {
        for (const step of done.reverse()) {
          if (step.undo) await rename(step.undo, step.target).catch(() => {});
          else await unlink(step.target).catch(() => {});
        }
        throw err;
      }
      await this.syncDirectory(this.namesDir);
      for (const step of steps) await this.settle(step.staged);
      return steps.map((step) => ({
        name: step.name,
        size: step.staged.size,
        sha256: step.staged.sha256,
        modified: lstatSync(step.target, { throwIfNoEntry: false })?.mtime ?? new Date(),
        replaced: step.replaced,
      }));
    } catch (err) {
      await Promise.all(files.map(({ staged }) => this.discard(staged)));
      throw err;
    } finally {
      // Renamed pointers are gone from tmp/ already; only undo copies and unused pointers remain.
      for (const path of leftovers) rmSync(path, { force: true });
    }
  }

  private syncDirectory(dir: string): Promise<void> {
    let syncer = this.directorySyncs.get(dir);
    if (syncer === undefined) this.directorySyncs.set(dir, syncer = new DirectorySync(dir));
    return syncer.sync();
  }

  async discard(staged: Staged): Promise<void> {
    closeStaged(staged);
    await staged.closing;
    await rm(staged.tmp, { force: true });
  }

  /**
   * The current version of `name`: its blob's path, size and hash, and when the name last changed
   * (`exactTime`: looked up even when the name still points where it did).
   */
  async resolve(name: string, exactTime = false): Promise<ResolvedFile> {
    validateName(name);
    // A name whose blob is missing is being repaired by the collector (it restores a blob a writer
    // touched while it was removing it): ask again a few times before calling the file absent.
    for (let attempt = 0;; attempt++) {
      // Synchronous on purpose: metadata calls served from the kernel's (or the NFS client's attribute)
      // cache, about 2 µs each here, where each promise-based call costs about 100 µs of thread-pool
      // round trip (measured under Bun): most of a small download's time. And only the readlink when
      // the name still points where it did last time: its modification time is then the one already
      // known (only a re-upload of the very same bytes through another replica goes unseen: the
      // Last-Modified of a GET stays the earlier one; listings always look).
      const pointer = join(this.namesDir, name);
      let target: string, modified: Date;
      try {
        target = readlinkSync(pointer);
        const known = this.pointers.get(name);
        if (known !== undefined && known.target === target && !exactTime) {
          modified = known.modified;
        } else {
          modified = lstatSync(pointer).mtime;
          if (this.pointers.size > 100_000) this.pointers.clear();
          this.pointers.set(name, { target, modified });
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "EINVAL" || code === "ENOTDIR") {
          throw new DomainError("not_found", `no file named ${JSON.stringify(name)}`);
        }
        throw err;
      }
      const sha256 = shaOfTarget(target);
      if (sha256 === undefined) throw new DomainError("not_found", `no file named ${JSON.stringify(name)}`);
      const path = this.blobPath(sha256);
      const size = this.sizes.get(sha256) ?? statSync(path, { throwIfNoEntry: false })?.size;
      if (size !== undefined) {
        if (this.sizes.size > 100_000) this.sizes.clear();
        this.sizes.set(sha256, size);
        return { name, sha256, size, path, modified };
      }
      if (attempt === 5) {
        throw new DomainError("not_found", `no file named ${JSON.stringify(name)} (its blob is missing)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20 * (attempt + 1)));
    }
  }

  /**
   * Resolves `name` and runs `use` on that version; when its blob went between the two (the name
   * moved on and the collector took the old version), resolves again.
   */
  async withResolved<T>(name: string, use: (file: ResolvedFile) => Promise<T>): Promise<T> {
    for (let attempt = 0;; attempt++) {
      const file = await this.resolve(name);
      try {
        return await use(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 2) throw err;
      }
    }
  }

  /** Resolves and opens `name`: the stream serves that version even if the name changes meanwhile. */
  open(name: string): Promise<OpenedFile> {
    return this.withResolved(name, async (file) => {
      const handle = await open(file.path, constants.O_RDONLY);
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        await handle.close().catch(() => {});
      };
      return {
        ...file,
        close,
        stream: (start = 0, end = file.size - 1) => fileStream(handle, start, end, close),
      };
    });
  }

  async list(): Promise<StoredFile[]> {
    const files: StoredFile[] = [];
    for (const name of (await readdir(this.namesDir)).sort()) {
      try {
        const { path: _, ...file } = await this.resolve(name, true);
        files.push(file);
      } catch (err) {
        if (!(err instanceof DomainError && err.kind === "not_found")) throw err; // deleted while listing
      }
    }
    return files;
  }

  /** Removes the name; its blob goes when the collector finds no name pointing at it. */
  async delete(name: string): Promise<void> {
    validateName(name);
    await unlink(join(this.namesDir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") throw new DomainError("not_found", `no file named ${JSON.stringify(name)}`);
      throw err;
    });
    await this.syncDirectory(this.namesDir);
  }

  /** The sha256 every name points at now (the collector's view of what is in use). */
  async referencedBlobs(): Promise<Set<string>> {
    const referenced = new Set<string>();
    for (const name of await readdir(this.namesDir)) {
      const target = await readlink(join(this.namesDir, name)).catch(() => undefined);
      const sha256 = target === undefined ? undefined : shaOfTarget(target);
      if (sha256 !== undefined) referenced.add(sha256);
    }
    return referenced;
  }
}

/** Starts closing the staged file; `closing` settles when it is closed (removing it waits for that). */
function closeStaged(staged: Staged): void {
  const handle = staged.unsynced;
  staged.unsynced = undefined;
  if (handle) staged.closing = handle.close().catch(() => {});
}

function readlinkOrUndefined(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** A hard link at `to`; an existing one is kept (made by another writer, or put back by the collector). */
function linkOnce(from: string, to: string): "made" | "no directory" {
  try {
    linkSync(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && existsSync(from)) return "no directory";
    if (code !== "EEXIST") throw err;
  }
  return "made";
}

/** A pointer's target, relative so the directory can be moved or mounted elsewhere. */
export function pointerTarget(sha256: string): string {
  return `../blobs/${sha256.slice(0, 2)}/${sha256}`;
}

function shaOfTarget(target: string): string | undefined {
  const sha256 = target.slice(target.lastIndexOf("/") + 1);
  return isSha256(sha256) ? sha256 : undefined;
}

/** The sha256 of an open file's bytes, read in chunks: a multi-GiB file is never in memory. */
export async function sha256Of(handle: FileHandle): Promise<string> {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  for (let position = 0;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, position);
    if (bytesRead === 0) return hash.digest("hex");
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

/** Bytes [start, end] of the file at `path`, as a stream (where Bun.file is not there to do it). */
export async function openStream(path: string, start: number, end: number): Promise<ReadableStream<Uint8Array>> {
  const handle = await open(path, constants.O_RDONLY);
  return fileStream(handle, start, end, () => handle.close().catch(() => {}));
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

function splitTempName(entry: string): [string | undefined, string | undefined] {
  // <host>-<pid>-<uuid>[.suffix]; host names may contain '-', the uuid has exactly four.
  const parts = entry.replace(/\.[a-z]+$/, "").split("-");
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
