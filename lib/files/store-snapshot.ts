// A copy of a store (store-layout.ts) taken while replicas keep writing to it, and a store put back from
// one: what deploy/backup and deploy/restore do with the file store (through deploy/store-backup.ts).
//
// A snapshot is itself a store directory (blobs/ and names/, nothing else), and never holds a name
// without its blob, however the store changes while it is taken:
//   1. every name is read first (its pointer's target: a blob's sha256) — the snapshot is of that moment;
//   2. then each name's blob is copied (hashed while copied: only bytes that match their name are kept)
//      or, when the previous snapshot holds it, hard-linked from there (a blob never changes: each one is
//      stored once across the snapshots kept); and only then the name is written, pointing at it;
//   3. a blob gone meanwhile means its name was replaced or deleted after step 1 and the collector
//      removed the old version: the name is read again, and its new blob taken, or the name dropped if
//      it is gone. A name still pointing at a missing blob is read again for a few seconds (the
//      collector may have moved it out and be about to put it back, blob-collector.ts) before it counts
//      as a problem.
// Blobs are copied, not hard-linked from the store: a backup that shares inodes with the live store
// shares its fate (and a backup on another disk cannot link anyway).
//
// Restore writes as a writer does (file-store.ts): each blob staged in tmp/, fsynced, linked into
// blobs/, and only then its name pointed at it with a renamed symlink; directories are fsynced before
// it reports done. It refuses a store that has any name or blob unless forced.
import { createHash } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { isSha256, pointerTarget, shaOfTarget, StoreLayout } from "./store-layout.ts";

/** One name of a snapshot: the version it pointed at, and since when. */
export interface SnapshotName {
  sha256: string;
  size: number;
  /** The pointer's modification time (ms): when the name was last pointed at a version. */
  modified: number;
}

export interface SnapshotResult {
  names: Record<string, SnapshotName>;
  /** Distinct blobs in the snapshot, and their bytes. */
  blobs: number;
  bytes: number;
  /** Blobs copied from the store, and hard-linked from the previous snapshot. */
  copied: number;
  linked: number;
  /** Names deleted between the reading of the names and the copy of their blob. */
  dropped: string[];
  /** Names read again because their blob was gone meanwhile (replaced: the new version was taken). */
  reread: string[];
  /** What could not be taken: a name whose blob is missing, bytes that do not match their hash. */
  problems: string[];
}

export interface SnapshotOptions {
  /** A previous snapshot: a blob it holds is hard-linked from there rather than copied. */
  linkFrom?: string;
  /** Bytes the destination's filesystem must still have free once the blobs to copy are in (default 0). */
  reserveBytes?: number;
  /** Tests: runs once the names are read, before any blob is taken. */
  afterListing?: () => void | Promise<void>;
  /** How long a name that still points at a missing blob is read again (default 5 s). */
  missingBlobWaitMs?: number;
}

const CHUNK = 1024 * 1024;

/** Copies `src` to a new file `dest` (fsynced), hashing it; undefined when `src` is gone. */
function copyHashed(src: string, dest: string, mode = 0o644): { sha256: string; size: number } | undefined {
  let input: number;
  try {
    input = openSync(src, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  // Once open, the bytes stay readable even if the collector unlinks the blob meanwhile.
  const output = openSync(dest, "wx", mode);
  try {
    const hash = createHash("sha256");
    const buffer = Buffer.allocUnsafe(CHUNK);
    let size = 0;
    for (;;) {
      const n = readSync(input, buffer, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      for (let off = 0; off < n;) off += writeSync(output, buffer, off, n - off);
      size += n;
    }
    fsyncSync(output);
    return { sha256: hash.digest("hex"), size };
  } finally {
    closeSync(input);
    closeSync(output);
  }
}

function readlinkOrUndefined(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EINVAL") return undefined;
    throw err;
  }
}

function exists(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

/** Every name of the store's names/ and its pointer's target (entries that are no pointer: left out). */
function readNames(layout: StoreLayout): Map<string, { target: string; modified: number }> {
  const names = new Map<string, { target: string; modified: number }>();
  for (const name of readdirSync(layout.namesDir).sort()) {
    const path = join(layout.namesDir, name);
    const target = readlinkOrUndefined(path);
    const modified = lstatSync(path, { throwIfNoEntry: false })?.mtimeMs;
    if (target !== undefined && modified !== undefined) names.set(name, { target, modified });
  }
  return names;
}

/** Takes a snapshot of the store at `storeDir` into `outDir` (a new or empty directory). */
export async function snapshotStore(
  storeDir: string,
  outDir: string,
  options: SnapshotOptions = {},
): Promise<SnapshotResult> {
  const store = new StoreLayout(storeDir);
  const out = new StoreLayout(outDir);
  const previous = options.linkFrom === undefined ? undefined : new StoreLayout(options.linkFrom);
  for (const dir of [out.dir, out.blobsDir, out.namesDir, out.tmpDir]) mkdirSync(dir, { recursive: true });
  if (readdirSync(out.namesDir).length > 0) throw new Error(`${out.namesDir} is not empty`);

  const result: SnapshotResult = {
    names: {},
    blobs: 0,
    bytes: 0,
    copied: 0,
    linked: 0,
    dropped: [],
    reread: [],
    problems: [],
  };
  // 1. The names, before any blob is looked at.
  const listed = readNames(store);
  await options.afterListing?.();

  // What the copies will take, against the room the destination has.
  if (options.reserveBytes !== undefined) {
    let needed = 0;
    const counted = new Set<string>();
    for (const { target } of listed.values()) {
      const sha256 = shaOfTarget(target);
      if (sha256 === undefined || counted.has(sha256)) continue;
      counted.add(sha256);
      if (previous && exists(previous.blobPath(sha256))) continue;
      needed += statSync(store.blobPath(sha256), { throwIfNoEntry: false })?.size ?? 0;
    }
    const fs = statfsSync(out.dir);
    const available = fs.bavail * fs.bsize;
    if (available - needed < options.reserveBytes) {
      throw new Error(
        `not enough room in ${out.dir}: the blobs to copy take ${needed} bytes, ${available} are free, ` +
          `and ${options.reserveBytes} must stay free`,
      );
    }
  }

  /** The blob in the snapshot: true once it is there, false when the store no longer has it. */
  const sizes = new Map<string, number>();
  const takeBlob = (sha256: string): boolean => {
    const dest = out.blobPath(sha256);
    if (sizes.has(sha256)) return true;
    mkdirSync(join(out.blobsDir, sha256.slice(0, 2)), { recursive: true });
    if (previous) {
      try {
        linkSync(previous.blobPath(sha256), dest);
        sizes.set(sha256, statSync(dest).size);
        result.linked++;
        return true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "ENOENT" && code !== "EXDEV" && code !== "EMLINK" && code !== "EPERM") throw err;
      }
    }
    const tmp = join(out.tmpDir, sha256);
    rmSync(tmp, { force: true });
    const copied = copyHashed(store.blobPath(sha256), tmp);
    if (copied === undefined) return false;
    if (copied.sha256 !== sha256) {
      rmSync(tmp, { force: true });
      throw new CorruptBlob(sha256, copied.sha256);
    }
    renameSync(tmp, dest);
    sizes.set(sha256, copied.size);
    result.copied++;
    return true;
  };

  // 2. Each name's blob, then the name.
  const waitMs = options.missingBlobWaitMs ?? 5000;
  for (const [name, first] of listed) {
    let { target, modified } = first;
    let waited = 0;
    for (let attempt = 0;; attempt++) {
      const sha256 = shaOfTarget(target);
      if (sha256 === undefined) {
        result.problems.push(`${name}: points at ${JSON.stringify(target)}, no blob`);
        break;
      }
      let taken: boolean;
      try {
        taken = takeBlob(sha256);
      } catch (err) {
        if (!(err instanceof CorruptBlob)) throw err;
        result.problems.push(`${name}: ${err.message}`);
        break;
      }
      if (taken) {
        const pointer = join(out.namesDir, name);
        symlinkSync(pointerTarget(sha256), pointer);
        lutimesSync(pointer, modified / 1000, modified / 1000);
        result.names[name] = { sha256, size: sizes.get(sha256)!, modified };
        break;
      }
      // 3. Its blob is gone: the name moved on (or went) since it was read.
      if (attempt === 0) result.reread.push(name);
      const path = join(store.namesDir, name);
      const now = readlinkOrUndefined(path);
      if (now === undefined) {
        result.dropped.push(name);
        break;
      }
      if (now !== target) {
        target = now;
        modified = lstatSync(path, { throwIfNoEntry: false })?.mtimeMs ?? modified;
        continue;
      }
      if (waited >= waitMs) {
        result.problems.push(`${name}: its blob ${sha256} is missing`);
        break;
      }
      const pause = Math.min(50 * 2 ** Math.min(attempt, 4), waitMs - waited);
      await new Promise((resolve) => setTimeout(resolve, pause));
      waited += pause;
    }
  }
  rmSync(out.tmpDir, { recursive: true, force: true });
  result.blobs = sizes.size;
  for (const size of sizes.values()) result.bytes += size;
  return result;
}

class CorruptBlob extends Error {
  constructor(sha256: string, actual: string) {
    super(`the bytes of blob ${sha256} hash to ${actual}: not taken`);
  }
}

/** Whether the store has no name and no blob (what tmp/, gc/ and uploads/ hold does not count). */
export function storeIsEmpty(storeDir: string): boolean {
  const store = new StoreLayout(storeDir);
  const entries = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
  };
  if (entries(store.namesDir).length > 0) return false;
  return entries(store.blobsDir).every((prefix) => entries(join(store.blobsDir, prefix)).length === 0);
}

/**
 * What is wrong with a snapshot against the names it should hold (its manifest): a name missing or
 * pointing elsewhere, a blob missing or of another size; with `deep`, a blob whose bytes do not hash
 * to its name. Empty: all there.
 */
export function checkSnapshot(dir: string, names: Record<string, SnapshotName>, deep = false): string[] {
  const snapshot = new StoreLayout(dir);
  const problems: string[] = [];
  for (const [name, { sha256, size }] of Object.entries(names)) {
    const target = readlinkOrUndefined(join(snapshot.namesDir, name));
    if (target !== pointerTarget(sha256)) {
      problems.push(`${name}: ${target === undefined ? "missing" : `points at ${target}`}, not at ${sha256}`);
      continue;
    }
    const actual = statSync(snapshot.blobPath(sha256), { throwIfNoEntry: false })?.size;
    if (actual !== size) {
      problems.push(`${name}: blob ${sha256} ${actual === undefined ? "missing" : `has ${actual} bytes`}, not ${size}`);
    } else if (deep) {
      const hash = createHash("sha256");
      const fd = openSync(snapshot.blobPath(sha256), "r");
      try {
        const buffer = Buffer.allocUnsafe(CHUNK);
        for (let n; (n = readSync(fd, buffer, 0, CHUNK, null)) > 0;) hash.update(buffer.subarray(0, n));
      } finally {
        closeSync(fd);
      }
      const digest = hash.digest("hex");
      if (digest !== sha256) problems.push(`${name}: blob ${sha256} hashes to ${digest}`);
    }
  }
  return problems;
}

export interface RestoreOptions {
  /** Restore over a store that has names or blobs: the snapshot's names replace the store's. */
  force?: boolean;
  /** Owner of everything made (the runtime image's user, uid 1000, when run as root). */
  owner?: { uid: number; gid: number };
}

export interface RestoreResult {
  names: number;
  /** Blobs written (a blob the store had already is kept). */
  blobs: number;
  bytes: number;
}

/**
 * Puts the snapshot at `snapshotDir` into the store at `storeDir`: `names` (the manifest's) are
 * restored, each blob checked against its hash on the way. Throws before writing anything when the
 * store is not empty (unless `force`) or a name's blob is missing from the snapshot.
 */
export function restoreStore(
  snapshotDir: string,
  storeDir: string,
  names: Record<string, SnapshotName>,
  options: RestoreOptions = {},
): RestoreResult {
  if (!options.force && !storeIsEmpty(storeDir)) {
    throw new Error(`the store ${storeDir} is not empty: restoring over it needs --force`);
  }
  const problems = checkSnapshot(snapshotDir, names);
  if (problems.length > 0) throw new Error(`the snapshot is incomplete:\n  ${problems.join("\n  ")}`);
  const snapshot = new StoreLayout(snapshotDir);
  const store = new StoreLayout(storeDir);
  const own = (path: string) => {
    if (options.owner) lchownSync(path, options.owner.uid, options.owner.gid);
  };
  const made = (dir: string) => {
    if (!exists(dir)) {
      mkdirSync(dir, { recursive: true });
      own(dir);
    }
  };
  made(store.dir);
  for (const dir of [store.blobsDir, store.namesDir, store.tmpDir, store.gcDir, store.uploadsDir]) made(dir);

  const result: RestoreResult = { names: 0, blobs: 0, bytes: 0 };
  const prefixes = new Set<string>();
  for (const [name, { sha256, modified }] of Object.entries(names).sort(([a], [b]) => a.localeCompare(b))) {
    if (!isSha256(sha256)) throw new Error(`${name}: ${JSON.stringify(sha256)} is no sha256`);
    const blob = store.blobPath(sha256);
    if (!exists(blob)) {
      const prefix = join(store.blobsDir, sha256.slice(0, 2));
      made(prefix);
      prefixes.add(prefix);
      const staged = store.tempPath(".restore");
      const copied = copyHashed(snapshot.blobPath(sha256), staged);
      if (copied === undefined) throw new Error(`${name}: blob ${sha256} is missing from the snapshot`);
      if (copied.sha256 !== sha256) {
        rmSync(staged, { force: true });
        throw new Error(`${name}: the snapshot's blob ${sha256} hashes to ${copied.sha256}`);
      }
      own(staged);
      try {
        linkSync(staged, blob);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      rmSync(staged, { force: true });
      result.blobs++;
      result.bytes += copied.size;
    }
    const pointer = store.tempPath(".link");
    symlinkSync(pointerTarget(sha256), pointer);
    own(pointer);
    lutimesSync(pointer, modified / 1000, modified / 1000);
    renameSync(pointer, join(store.namesDir, name));
    result.names++;
  }
  // Durable before it is reported done: the blobs' directories, then the names.
  for (const dir of [...prefixes, store.blobsDir, store.namesDir]) fsyncDirectory(dir);
  return result;
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
