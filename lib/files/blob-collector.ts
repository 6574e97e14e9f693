// Removes blobs no name points to, while other replicas keep uploading and reading through the same
// directory (over NFS). A blob is removed only when all of this holds:
//   1. no name pointed at it at a pass (it was *marked* then: gc/marks.json, time of the mark), and
//   2. still none at a pass at least `graceMs` later, and
//   3. nobody touched it since the mark: a writer touches a blob right before pointing a name at it
//      (FileStore.adopt), so a blob an upload is about to use is never taken;
//   4. and 3 still holds after the blob was moved out of blobs/ (renamed into gc/): a writer that
//      touched it in between is seen then, and the blob is put back.
// Readers: a reader resolves a name and opens its blob within milliseconds, and a blob that was in
// use when resolved stays at least `graceMs` after its name moved on (1-2), so no reader opens a
// removed blob. A reader that keeps a blob open longer than that keeps reading on a local disk (an
// open file outlives its name); on NFS a read lasting past the removal from another host fails
// (ESTALE): the grace (1 hour by default) bounds how long a download may run across a replacement.
// Writers that lose a blob to a pass between their touch and their rename (the blob was missing
// when touched) put their own staged copy there instead. Clocks of the replicas are assumed to
// agree to well within the grace (NTP). One pass at a time across replicas: gc/lock (mkdir, atomic
// on NFS), taken over when older than LOCK_STALE_MS (a replica died holding it).
import { randomUUID } from "node:crypto";
import { lstat, mkdir, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { FileStore } from "./file-store.ts";

export interface CollectResult {
  /** Another replica's pass was running: nothing done. */
  skipped: boolean;
  removed: string[];
  /** Blobs no name points to, not yet old enough to go. */
  marked: number;
  /** Blobs a writer touched while they were being removed, put back. */
  restored: string[];
}

const LOCK_STALE_MS = 10 * 60 * 1000;
const SHA256 = /^[0-9a-f]{64}$/;

export async function collectBlobs(store: FileStore, graceMs: number): Promise<CollectResult> {
  const result: CollectResult = { skipped: false, removed: [], marked: 0, restored: [] };
  const lock = join(store.gcDir, "lock");
  if (!await takeLock(lock)) return { ...result, skipped: true };
  try {
    const marksPath = join(store.gcDir, "marks.json");
    const marks: Record<string, number> = await readFile(marksPath, "utf8").then(
      (text) => JSON.parse(text) as Record<string, number>,
      () => ({}),
    );
    const next: Record<string, number> = {};
    const now = Date.now();
    const referenced = await store.referencedBlobs();
    for (const sha256 of await listBlobs(store)) {
      if (referenced.has(sha256)) continue;
      const markedAt = marks[sha256];
      if (markedAt === undefined || now - markedAt < graceMs) {
        next[sha256] = markedAt ?? now;
        continue;
      }
      const blob = store.blobPath(sha256);
      const touchedSinceMark = await stat(blob).then((s) => s.mtimeMs >= markedAt, () => undefined);
      if (touchedSinceMark === undefined) continue; // gone already
      if (touchedSinceMark) continue; // a writer is about to point a name at it: start over
      const out = join(store.gcDir, `${sha256}.${randomUUID()}`);
      if (!await rename(blob, out).then(() => true, () => false)) continue;
      if (await stat(out).then((s) => s.mtimeMs >= markedAt, () => false)) {
        await rename(out, blob); // touched between the check and the move: it is in use
        result.restored.push(sha256);
        continue;
      }
      await unlink(out);
      result.removed.push(sha256);
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

async function takeLock(lock: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await mkdir(lock).then(() => true, () => false)) return true;
    const age = await lstat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age < LOCK_STALE_MS) return false;
    await rm(lock, { recursive: true, force: true }); // its holder died
  }
  return false;
}

async function listBlobs(store: FileStore): Promise<string[]> {
  const blobs: string[] = [];
  for (const prefix of await readdir(store.blobsDir).catch(() => [] as string[])) {
    for (const entry of await readdir(join(store.blobsDir, prefix)).catch(() => [] as string[])) {
      if (SHA256.test(entry) && entry.startsWith(prefix)) blobs.push(entry);
    }
  }
  return blobs;
}
