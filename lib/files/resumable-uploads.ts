// Resumable uploads: the storage side of tus (tus.ts). Their whole state lives in the store's shared
// uploads/ directory, so any replica can continue an upload another one began; an offset a client was
// told is on disk (fsynced before the answer), and a body cut off midway keeps what arrived: the next
// HEAD gives that offset (that is the resume). The last byte in, the data file is committed under its
// name like any upload (FileStore.commit). Completing is idempotent, so a replica dying after the last
// byte leaves it to the next HEAD or PATCH. The one window: dying between the commit and writing
// <id>.done.json means the commit is done again later, which would put back these bytes over a
// version written in between. Abandoned uploads and stale locks are judged by the store's clock
// (store-clock.ts), never by this host's.
import { Buffer } from "node:buffer";
import { randomUUID } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, link, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { DomainError } from "@tarsd/sdk";
import { storageErrors } from "./disk-full.ts";
import { syncDir } from "../disk/directory-sync.ts";
import type { FileStore } from "./file-store.ts";
import { type Clock, perPass } from "./store-clock.ts";
import { WRITE_CHUNK_BYTES } from "./staging-writer.ts";
import { sha256Of } from "./stream-utils.ts";
import { validateName } from "./names.ts";

export interface UploadInfo {
  length: number;
  filename: string;
  /** ISO time of creation. */
  created: string;
}

export interface UploadStatus {
  id: string;
  offset: number;
  length: number;
  filename: string;
  /** The file is committed: the upload takes no more bytes. */
  complete: boolean;
}

export interface ResumableUploadOptions {
  /** An upload none of whose files changed for this long is gone (UPLOAD_EXPIRY_SECONDS). */
  expiryMs: number;
  /** A lock this old, on an upload whose bytes did not grow for as long, belongs to a dead request. */
  staleLockMs?: number;
  /** The store's clock, that the files' times are compared with (default: the store's, FileStore.clock). */
  clock?: Clock;
}

/**
 * Longer than the runtime's idle timeout (120 s): a live request either sends bytes (which touch
 * the data file) or is cut off by then, so a lock older than this with no growth is a dead one.
 */
export const STALE_LOCK_MS = 3 * 60 * 1000;
const ID = /^[0-9a-f]{32}$/;

/** A known upload: in progress (its info file), or complete (only its record of completion left). */
type Found = { id: string; info: UploadInfo; done: boolean };

export class ResumableUploads {
  private readonly staleLockMs: number;
  private readonly clock: Clock;

  constructor(private readonly store: FileStore, private readonly options: ResumableUploadOptions) {
    this.staleLockMs = options.staleLockMs ?? STALE_LOCK_MS;
    this.clock = options.clock ?? store.clock;
  }

  /** Starts an upload of `length` bytes to be stored as `filename`; an empty one is complete at once. */
  async create(length: number, filename: string): Promise<UploadStatus> {
    validateName(filename);
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new DomainError("malformed", "the upload length must be a non-negative integer");
    }
    const id = randomUUID().replaceAll("-", "");
    const paths = this.paths(id);
    const info: UploadInfo = { length, filename, created: new Date().toISOString() };
    // The data file first: an info file always has its data file (a lone data file is expired later).
    try {
      await storageErrors(async () => {
        await (await open(paths.data, "wx", 0o644)).close();
        await this.writeJson(paths.info, info);
      });
    } catch (err) {
      await rm(paths.info, { force: true });
      await rm(paths.data, { force: true });
      throw err;
    }
    if (length === 0) return await this.withLock(id, perPass(this.clock), () => this.complete(id, info));
    return { id, offset: 0, length, filename, complete: false };
  }

  /** Where the upload stands; one whose last byte is in but not yet committed is committed now. */
  async status(id: string): Promise<UploadStatus> {
    const now = perPass(this.clock);
    const found = await this.find(id, now);
    if (found.done) return doneStatus(found);
    const offset = await this.offsetOf(id);
    if (offset < found.info.length) return { id, offset, ...pick(found.info), complete: false };
    try {
      return await this.withLock(id, now, async () => {
        const again = await this.find(id, now);
        return again.done ? doneStatus(again) : await this.complete(id, again.info);
      });
    } catch (err) {
      // Another request holds it, and completes it itself (or its lock goes stale and the next one does).
      if (err instanceof DomainError && err.kind === "busy") {
        return { id, offset, ...pick(found.info), complete: false };
      }
      throw err;
    }
  }

  /**
   * Appends `body` at `offset`, which must be the upload's offset now. `declaredBytes` (the request's
   * Content-Length) lets a body that would go past the length be refused before anything is written.
   */
  async append(
    id: string,
    offset: number,
    body: AsyncIterable<Uint8Array>,
    declaredBytes?: number,
  ): Promise<UploadStatus> {
    const now = perPass(this.clock);
    const before = await this.find(id, now); // An unknown id is refused before any lock file is made for it.
    if (before.done) throw new DomainError("conflict", `the upload is complete: its offset is ${before.info.length}`);
    if (declaredBytes !== undefined && offset + declaredBytes > before.info.length) {
      throw new DomainError(
        "too_large",
        `${declaredBytes} bytes at offset ${offset} go past the upload's length of ${before.info.length} bytes`,
      );
    }
    return await this.withLock(id, now, async () => {
      const found = await this.find(id, now);
      if (found.done) throw new DomainError("conflict", `the upload is complete: its offset is ${found.info.length}`);
      const current = await this.offsetOf(id);
      if (current !== offset) {
        throw new DomainError("conflict", `Upload-Offset ${offset} is not the upload's offset, ${current}`);
      }
      const reached = current < found.info.length
        ? await this.receive(this.paths(id).data, offset, found.info.length, body)
        : current;
      if (reached === found.info.length) return await this.complete(id, found.info);
      return { id, offset: reached, ...pick(found.info), complete: false };
    });
  }

  /** Removes the upload (termination); a completed upload's file stays. */
  async terminate(id: string): Promise<void> {
    const now = perPass(this.clock);
    await this.find(id, now);
    await this.withLock(id, now, () => this.remove(id));
  }

  /** Removes uploads none of whose files changed for `expiryMs` by the store's clock (the periodic pass). */
  async expire(): Promise<string[]> {
    // Read before any file's time: one touched during the pass only looks younger.
    const reading = await this.clock();
    const now = () => Promise.resolve(reading);
    const newest = new Map<string, number>();
    for (const entry of await readdir(this.store.uploadsDir).catch(() => [] as string[])) {
      const id = entry.slice(0, 32);
      if (!ID.test(id)) continue;
      const info = await stat(join(this.store.uploadsDir, entry)).catch(() => null);
      if (info) newest.set(id, Math.max(newest.get(id) ?? 0, info.mtimeMs));
    }
    const removed: string[] = [];
    for (const [id, mtime] of newest) {
      if (reading - mtime <= this.options.expiryMs) continue;
      try {
        await this.withLock(id, now, async () => {
          if (reading - (await this.lastTouched(id)) > this.options.expiryMs) {
            await this.remove(id);
            removed.push(id);
          }
        });
      } catch (err) {
        if (!(err instanceof DomainError && err.kind === "busy")) throw err; // In use after all: not abandoned.
      }
    }
    return removed;
  }

  /**
   * An upload's files: <id> the bytes received so far (its size *is* the offset); <id>.json what is
   * being uploaded ({length, filename, created}); <id>.lock the one request appending or completing
   * now (open "wx" is exclusive across hosts, NFS included; taken over once stale); <id>.done.json
   * the upload completed, its file committed.
   */
  private paths(id: string) {
    const data = join(this.store.uploadsDir, id);
    return { data, info: `${data}.json`, lock: `${data}.lock`, done: `${data}.done.json` };
  }

  /** The upload `id`, known and not expired by the store's time `now` (one reading per request). */
  private async find(id: string, now: Clock): Promise<Found> {
    if (!ID.test(id)) throw new DomainError("not_found", `no upload ${JSON.stringify(id)}`);
    const paths = this.paths(id);
    const info = await readJson<UploadInfo>(paths.info);
    const done = info ? undefined : await readJson<UploadInfo & { sha256: string }>(paths.done);
    if (!info && !done) throw new DomainError("not_found", `no upload ${JSON.stringify(id)}`);
    // Abandoned but not yet removed by the periodic pass: as gone as it will be.
    const time = await now(); // before the files' times: they can only look younger
    if (time - (await this.lastTouched(id)) > this.options.expiryMs) {
      throw new DomainError("not_found", `upload ${id} expired`);
    }
    return info ? { id, info, done: false } : { id, info: done!, done: true };
  }

  private async lastTouched(id: string): Promise<number> {
    const paths = this.paths(id);
    const times = await Promise.all(
      // Not the lock: expire() holds it while it looks.
      [paths.data, paths.info, paths.done].map((path) => stat(path).then((s) => s.mtimeMs, () => 0)),
    );
    return Math.max(...times);
  }

  private async offsetOf(id: string): Promise<number> {
    return await stat(this.paths(id).data).then((s) => s.size, (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") throw new DomainError("not_found", `upload ${id} has no data (it was removed)`);
      throw err;
    });
  }

  /**
   * Writes the body at `offset` (positional writes: a retried write after a partial one rewrites the
   * same bytes), coalesced into 1 MiB writes, and fsyncs. Returns the new offset. A body cut off or
   * a full disk keeps every byte that made it; a body going past `length` is undone entirely.
   */
  private async receive(path: string, offset: number, length: number, body: AsyncIterable<Uint8Array>) {
    const handle = await storageErrors(() => open(path, constants.O_WRONLY));
    const buffer = Buffer.allocUnsafe(WRITE_CHUNK_BYTES);
    let position = offset;
    let pending = 0;
    let overrun = false;
    const flush = async () => {
      if (pending === 0) return;
      await storageErrors(() => writeAllAt(handle, buffer.subarray(0, pending), position));
      position += pending;
      pending = 0;
    };
    let failure: unknown;
    try {
      for await (const chunk of body) {
        if (position + pending + chunk.byteLength > length) {
          overrun = true;
          throw new DomainError("too_large", `the body goes past the upload's length of ${length} bytes`);
        }
        let taken = 0;
        while (taken < chunk.byteLength) {
          const take = Math.min(chunk.byteLength - taken, buffer.byteLength - pending);
          buffer.set(chunk.subarray(taken, taken + take), pending);
          pending += take;
          taken += take;
          if (pending === buffer.byteLength) await flush();
        }
      }
    } catch (err) {
      failure = err;
    }
    try {
      if (overrun) await handle.truncate(offset); // Bad input changes nothing.
      else await flush();
      await storageErrors(() => handle.sync());
    } catch (err) {
      failure ??= err;
    } finally {
      await handle.close().catch(() => {});
    }
    if (failure instanceof DomainError && failure.kind === "storage_full") {
      // storageErrors says "nothing was stored", true of a whole upload but not of this one.
      const kept = await stat(path).then((s) => s.size, () => offset);
      throw new DomainError(
        "storage_full",
        `the disk or quota is full: the upload keeps its first ${kept} bytes; resume from there once space is freed`,
      );
    }
    if (failure !== undefined) throw failure;
    return position;
  }

  /** Commits the whole data file under its name, then records that; safe to run again after a crash. */
  private async complete(id: string, info: UploadInfo): Promise<UploadStatus> {
    const paths = this.paths(id);
    const sha256 = await hashAndSync(paths.data);
    // commit() removes what it was given when it fails: give it a second link to the bytes, so a
    // failed commit (a full disk) leaves the upload whole, to be completed by a later request.
    const staged = this.store.tempPath();
    await storageErrors(() => link(paths.data, staged));
    await this.store.commit([{ name: info.filename, staged: { tmp: staged, sha256, size: info.length } }]);
    await this.writeJson(paths.done, { ...info, sha256, completed: new Date().toISOString() });
    await rm(paths.info, { force: true });
    await rm(paths.data, { force: true });
    await syncDir(this.store.uploadsDir);
    return { id, offset: info.length, length: info.length, filename: info.filename, complete: true };
  }

  /** The info file goes first: from then on the upload is unknown, whatever else is left for a moment. */
  private async remove(id: string): Promise<void> {
    const paths = this.paths(id);
    for (const path of [paths.info, paths.done, paths.data]) await rm(path, { force: true });
    await syncDir(this.store.uploadsDir);
  }

  /** Runs `work` holding the upload's lock; `now` is the request's (or pass's) reading of the store's clock. */
  private async withLock<T>(id: string, now: Clock, work: () => Promise<T>): Promise<T> {
    const lock = this.paths(id).lock;
    const token = await this.acquire(id, now);
    try {
      return await work();
    } finally {
      // Only our own lock: had ours been taken over as stale, the file is someone else's now.
      if ((await readFile(lock, "utf8").catch(() => "")) === token) await rm(lock, { force: true });
    }
  }

  private async acquire(id: string, now: Clock): Promise<string> {
    const { lock, data } = this.paths(id);
    const token = JSON.stringify({ host: hostname(), pid: process.pid, nonce: randomUUID() });
    for (let attempt = 0; attempt < 2; attempt++) {
      const handle = await storageErrors(() => open(lock, "wx", 0o644)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === "EEXIST") return undefined;
        throw err;
      });
      if (handle) {
        try {
          await storageErrors(() => handle.writeFile(token));
        } catch (err) {
          // Ours, but without its token it could never be released: a full disk must not lock the upload.
          await handle.close().catch(() => {});
          await rm(lock, { force: true });
          throw err;
        }
        await handle.close();
        return token;
      }
      const time = await now(); // the store's, as the lock's and the data's times are
      const touched = await Promise.all([lock, data].map((path) => stat(path).then((s) => s.mtimeMs, () => 0)));
      if (time - Math.max(...touched) <= this.staleLockMs) break;
      // Taking over: move the stale lock aside (of two replicas doing so, one finds it gone). If what
      // was moved turns out fresh (another replica took over just before), it is put back.
      const aside = `${lock}.${randomUUID()}.stale`;
      if (await rename(lock, aside).then(() => true, () => false)) {
        const movedTime = await stat(aside).then((s) => s.mtimeMs, () => 0);
        if (time - movedTime <= this.staleLockMs) await link(aside, lock).catch(() => {});
        await rm(aside, { force: true });
      }
    }
    throw new DomainError("busy", `another request is writing upload ${id}: try again shortly`);
  }

  /** Written whole or not at all (a temp file renamed into place), like every pointer in the store. */
  private async writeJson(path: string, value: unknown): Promise<void> {
    const tmp = this.store.tempPath(".json");
    try {
      await storageErrors(async () => {
        const handle = await open(tmp, "wx", 0o644);
        try {
          await handle.writeFile(JSON.stringify(value));
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(tmp, path);
      });
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}

function pick(info: UploadInfo) {
  return { length: info.length, filename: info.filename };
}

function doneStatus(found: Found): UploadStatus {
  return { id: found.id, offset: found.info.length, ...pick(found.info), complete: true };
}

async function readJson<T>(path: string): Promise<T | undefined> {
  const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  return text === undefined ? undefined : JSON.parse(text) as T;
}

async function writeAllAt(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.byteLength - written, position + written);
    written += bytesWritten;
  }
}

/** The file's sha256 (read in chunks), and the file fsynced. */
async function hashAndSync(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    const sha256 = await sha256Of(handle);
    await storageErrors(() => handle.sync());
    return sha256;
  } finally {
    await handle.close();
  }
}
