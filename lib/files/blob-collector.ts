// Removes blobs no name points to, while other replicas keep uploading and reading through the same
// directory (over NFS). One pass:
//   1. reads every name; a blob none points to is *marked* (gc/marks.json keeps when), and one that
//      was marked at least `graceMs` ago and not touched since (writers touch a blob before pointing
//      a name at it) is moved out of blobs/ into gc/;
//   2. reads every name again: a moved blob that a name points to now, or that was touched after
//      all, is put back; the rest are deleted.
// Why no name ends up pointing at a missing blob: a writer points its name at the blob and then checks
// the blob is there, putting it back from its own staged copy if not (FileStore.settle). If the name
// was in place before the second reading, the pass sees it and puts the blob back; if not, the blob
// was moved out before the writer's check, which then sees it missing. Either way the blob is there
// (for the moment between moving out and putting back it is not: that needs a writer that took longer
// than the grace between touching the blob and pointing its name at it; with a grace of 0, as the
// race test runs, it happens, which is why the test checks names after a whole pass).
// Readers: a reader resolves a name and opens its blob within milliseconds, and a blob that was in
// use when resolved stays at least `graceMs` after its name moved on (the mark), so no reader opens
// a removed blob. A reader that keeps a blob open longer than that keeps reading on a local disk (an
// open file outlives its name); on NFS a read lasting past the removal from another host fails
// (ESTALE): the grace (1 hour by default) bounds how long a download may run across a replacement.
// Times: a mark's time is the store's (store-clock.ts: the time the file server stamps on a file,
// read once at the start of the pass), and so are the blobs' times it is compared with (writers have
// the server stamp their touch) and the lock's: the replicas' own clocks may disagree with the server
// and with each other by any amount, and are never compared with a file's time or stored in a mark.
// Assumed: the server's clock moves at its normal pace (one stepped back delays removals, one stepped
// forward shortens the grace by the step). One pass at a time across replicas: gc/lock (mkdir, atomic
// on NFS), taken over when older than LOCK_STALE_MS by the store's clock.
import { randomUUID } from "node:crypto";
import { lstat, mkdir, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { FileStore } from "./file-store.ts";
import { isSha256, type StoreLayout } from "./store-layout.ts";
import type { Clock } from "./store-clock.ts";

export interface CollectResult {
  /** Another replica's pass was running: nothing done. */
  skipped: boolean;
  removed: string[];
  /** Blobs no name points to, not yet old enough to go. */
  marked: number;
  /** Blobs moved out and put back: a name pointed at them, or a writer touched them, meanwhile. */
  restored: string[];
}

export const LOCK_STALE_MS = 10 * 60 * 1000;

export interface CollectOptions {
  /** The store's clock (default: the store's own, FileStore.clock). */
  clock?: Clock;
}

export async function collectBlobs(
  store: FileStore,
  graceMs: number,
  options: CollectOptions = {},
): Promise<CollectResult> {
  const result: CollectResult = { skipped: false, removed: [], marked: 0, restored: [] };
  // The store's time before anything is looked at: the lock and blob times read after it can only
  // look younger than they are, and a mark is never later than the reading of the names it follows.
  const now = await (options.clock ?? store.clock)();
  const lock = join(store.gcDir, "lock");
  if (!await takeLock(lock, now)) return { ...result, skipped: true };
  try {
    const marksPath = join(store.gcDir, "marks.json");
    const marks: Record<string, number> = await readFile(marksPath, "utf8").then(
      (text) => JSON.parse(text) as Record<string, number>,
      () => ({}),
    );
    const next: Record<string, number> = {};
    const referenced = await store.referencedBlobs();
    const movedOut: { sha256: string; markedAt: number; out: string }[] = [];
    for (const sha256 of await listBlobs(store)) {
      if (referenced.has(sha256)) continue;
      const markedAt = marks[sha256];
      if (markedAt === undefined || now - markedAt < graceMs) {
        // A mark ahead of the store's time (its clock stepped back, or the mark was written by a
        // replica's own clock before marks were in the store's time) counts from now.
        next[sha256] = Math.min(markedAt ?? now, now);
        continue;
      }
      const blob = store.blobPath(sha256);
      if (await touchedSince(blob, markedAt)) continue; // a writer wants it: it gets a new mark if still unused
      const out = join(store.gcDir, `${sha256}.${randomUUID()}`);
      if (await rename(blob, out).then(() => true, () => false)) movedOut.push({ sha256, markedAt, out });
    }
    if (movedOut.length > 0) {
      const referencedNow = await store.referencedBlobs();
      for (const { sha256, markedAt, out } of movedOut) {
        if (referencedNow.has(sha256) || await touchedSince(out, markedAt)) {
          await rename(out, store.blobPath(sha256)); // same bytes as any copy a writer put back meanwhile
          result.restored.push(sha256);
        } else {
          await unlink(out);
          result.removed.push(sha256);
        }
      }
    }
    result.marked = Object.keys(next).length;
    const tmp = store.tempPath(".marks");
    await writeFile(tmp, JSON.stringify(next));
    await rename(tmp, marksPath);
    return result;
  } finally {
    await rmdir(lock).catch(() => {});
  }
}

function touchedSince(path: string, markedAt: number): Promise<boolean> {
  return stat(path).then((s) => s.mtimeMs >= markedAt, () => false);
}

async function takeLock(lock: string, now: number): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await mkdir(lock).then(() => true, () => false)) return true;
    const age = await lstat(lock).then((s) => now - s.mtimeMs, () => 0);
    if (age < LOCK_STALE_MS) return false;
    await rm(lock, { recursive: true, force: true }); // its holder died
  }
  return false;
}

/** Every blob's sha256 (blobs/<2 hex>/<sha256>); a directory that cannot be read counts as empty. */
export async function listBlobs(store: StoreLayout): Promise<string[]> {
  const blobs: string[] = [];
  for (const prefix of await readdir(store.blobsDir).catch(() => [] as string[])) {
    for (const entry of await readdir(join(store.blobsDir, prefix)).catch(() => [] as string[])) {
      if (isSha256(entry) && entry.startsWith(prefix)) blobs.push(entry);
    }
  }
  return blobs;
}
