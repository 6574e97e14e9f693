// Files on a directory that several replicas share, content-addressed (store-layout.ts). An upload is
// staged in tmp/ (staging.ts), fsynced, becomes its blob, and only then is the name pointed at it by
// renaming a new symlink over the old one: readers see the old version or the new one, whole. A blob
// never changes, so a reader can hand its path to the kernel (sendfile) and its ETag is its name.
// Blobs no name points to go by the collector (blob-collector.ts); what a writer does for it: touch
// the blob before pointing a name at it (`adopt`), and keep its staged copy until the name is in place
// and the blob checked to be there (`settle`). Names are checked here, at every public method.
import {
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
import { mkdir, readdir, readlink, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { DomainError } from "@tarsd/sdk";
import { DirectorySync, type FsyncFd } from "../disk/directory-sync.ts";
import { storageErrors } from "./disk-full.ts";
import { validateName } from "./names.ts";
import { BoundedCache } from "./store-caches.ts";
import { type Clock, stamp, storeClock, touchNow } from "./store-clock.ts";
import { pointerTarget, shaOfTarget, StoreLayout } from "./store-layout.ts";
import { closeStaged, discardStaged, stageBody, type Staged, type StagedFile } from "./staging.ts";
import { cleanupTemps } from "./temp-cleanup.ts";

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

export interface FileStoreOptions {
  /**
   * The directory's own time, that file times are compared with (by this store, the blob collector
   * and resumable uploads). Default: read from the directory itself (store-clock.ts), never this
   * host's clock. Tests give one that disagrees with Date.now().
   */
  clock?: Clock;
  /**
   * How a directory's descriptor is fsynced (directory-sync.ts; default: fsync(2)). Tests give one
   * that fails, to see a failed fsync refuse the upload.
   */
  fsyncDirectory?: FsyncFd;
}

export class FileStore extends StoreLayout {
  /** Blob sizes: a blob never changes, so its size is looked up once. */
  private readonly sizes = new BoundedCache<string, number>();
  /** Where each name pointed when last resolved here, and since when. */
  private readonly pointers = new BoundedCache<string, { target: string; modified: Date }>();
  private readonly directorySyncs = new Map<string, DirectorySync>();
  /** The store's clock (store-clock.ts): the only time file times are compared with. */
  readonly clock: Clock;
  private readonly fsyncDirectory: FsyncFd | undefined;

  constructor(dir: string, options: FileStoreOptions = {}) {
    super(dir);
    this.clock = options.clock ?? storeClock(() => this.tempPath(".clock"));
    this.fsyncDirectory = options.fsyncDirectory;
  }

  async init(): Promise<void> {
    for (const dir of [this.blobsDir, this.namesDir, this.tmpDir, this.gcDir, this.uploadsDir]) {
      await mkdir(dir, { recursive: true });
    }
    await this.cleanupTemps();
  }

  /** Removes what dead uploads left in tmp/ (temp-cleanup.ts). */
  cleanupTemps(): Promise<string[]> {
    return cleanupTemps(this, this.clock);
  }

  /** Stores `body` as `name`. */
  async put(name: string, body: AsyncIterable<Uint8Array>): Promise<StoredFile & { replaced: boolean }> {
    const [stored] = await this.commit([await this.stage(name, body)]);
    return stored!;
  }

  /**
   * Streams `body` into a private temp file to be stored as `name` (staging.ts); nothing is visible
   * until `commit`. A bad name is refused before anything is read or written. The caller commits or
   * discards what it staged.
   */
  async stage(name: string, body: AsyncIterable<Uint8Array>): Promise<StagedFile> {
    validateName(name);
    return { name, staged: await stageBody(this.tempPath(), body) };
  }

  /**
   * Makes the staged bytes the blob of their hash, and fresh for the collector: an existing blob is
   * touched, a missing one is made as a hard link to the staged file once that is fsynced (a blob
   * is always durable: identical uploads are stored once, and point at it without an fsync of
   * their own). The staged file stays until `settle`: until a name points at the blob, this writer
   * can always put the bytes back, whatever a collector pass does meanwhile.
   *
   * Its metadata calls (touch, link, and in `commit` and `settle` the pointer's symlink and rename,
   * readlink and unlink) are made in place: a promise-based call would wait in the thread pool's
   * queue behind the uploads' fsyncs and direct writes. What waits for the disk (fsync, writes,
   * close) stays in the pool. On NFS each in-place call is a round trip the event loop waits for.
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
   * full disk fails; then the pointers are renamed into names/ one by one and names/ is fsynced, and
   * if a rename or the fsync fails the renames already made are put back. A reader may see the first
   * names of a request a moment before the last; after the request every name is new, or every name
   * is as it was. What it was given is discarded when it fails.
   */
  async commit(files: StagedFile[]): Promise<(StoredFile & { replaced: boolean })[]> {
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
        // Undo copies are for requests of several names (a later rename may fail); one name alone is
        // undone only when the fsync of names/ fails, and its old pointer is made again then.
        let undo: string | undefined;
        if (previous !== undefined && files.length > 1) {
          undo = this.tempPath(".link");
          await storageErrors(() => symlinkSync(previous, undo!));
          leftovers.push(undo);
        }
        steps.push({ name, staged, target, pointer, undo, previous, replaced: previous !== undefined });
      }
      const done: typeof steps = [];
      try {
        for (const step of steps) {
          await storageErrors(() => renameSync(step.pointer, step.target));
          done.push(step);
        }
        // The renames are on disk once names/ is fsynced: if that fails, none may be acknowledged,
        // and they are undone like a failed rename.
        await this.syncDirectory(this.namesDir);
      } catch (err) {
        for (const step of done.reverse()) await this.undoPointer(step);
        throw err;
      }
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

  /**
   * Puts back what a name pointed at before `commit` renamed its new pointer over it (nothing: the
   * name goes), unless another writer has pointed it elsewhere since: that version stays. The undo
   * copy made beforehand is used when there is one; else (one name: only a failed fsync gets here)
   * the old pointer is made again now.
   */
  private async undoPointer(step: { target: string; staged: Staged; undo?: string; previous?: string }) {
    if (readlinkOrUndefined(step.target) !== pointerTarget(step.staged.sha256)) return;
    if (step.undo) return await rename(step.undo, step.target).catch(() => {});
    if (step.previous === undefined) return await unlink(step.target).catch(() => {});
    const again = this.tempPath(".link");
    try {
      symlinkSync(step.previous, again);
      renameSync(again, step.target);
    } catch {
      rmSync(again, { force: true });
    }
  }

  /** fsync of `dir`, shared with the concurrent callers (directory-sync.ts); a full disk is 507. */
  private syncDirectory(dir: string): Promise<void> {
    let syncer = this.directorySyncs.get(dir);
    if (syncer === undefined) this.directorySyncs.set(dir, syncer = new DirectorySync(dir, this.fsyncDirectory));
    return storageErrors(() => syncer.sync());
  }

  discard(staged: Staged): Promise<void> {
    return discardStaged(staged);
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
      // cache cost far less in place than a round trip through the thread pool. And only the readlink
      // when the name still points where it did last time: its modification time is then the one
      // already known (only a re-upload of the very same bytes through another replica goes unseen:
      // the Last-Modified of a GET stays the earlier one; listings always look).
      const pointer = join(this.namesDir, name);
      let target: string, modified: Date;
      try {
        target = readlinkSync(pointer);
        const known = this.pointers.get(name);
        if (known !== undefined && known.target === target && !exactTime) {
          modified = known.modified;
        } else {
          modified = lstatSync(pointer).mtime;
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
