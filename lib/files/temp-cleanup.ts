// Temp files an upload that died left in tmp/: a crashed process cannot remove its own, so a store
// removes them when it starts. Another replica's live upload keeps its temp file fresh, so only a
// dead process of this host's, or a file stale by the store's clock (store-clock.ts), goes.
import { lstat, readdir, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { Clock } from "./store-clock.ts";
import { type StoreLayout, tempOwner } from "./store-layout.ts";

/**
 * Temp files untouched this long (by the store's clock) belong to a dead upload (Bun's idle timeout
 * ends live ones sooner).
 */
export const STALE_TEMP_MS = 10 * 60 * 1000;

/**
 * Removes temp files left by a crashed upload: those of a dead process on this host at once,
 * anyone's once stale by `clock` (other replicas' live uploads keep their temp files fresh). A store
 * whose clock cannot be read (a probe file cannot be made) has none judged stale.
 */
export async function cleanupTemps(layout: StoreLayout, clock: Clock): Promise<string[]> {
  const removed: string[] = [];
  const host = hostname();
  // Before any file's time is looked at (they can only look younger than they are).
  const now = await clock().catch(() => undefined);
  for (const entry of await readdir(layout.tmpDir).catch(() => [] as string[])) {
    const path = join(layout.tmpDir, entry);
    const owner = tempOwner(entry);
    const deadHere = owner !== undefined && owner.host === host && !processAlive(Number(owner.pid));
    const info = await lstat(path).catch(() => null);
    if (!info) continue;
    if (deadHere || (now !== undefined && now - info.mtimeMs > STALE_TEMP_MS)) {
      await rm(path, { force: true });
      removed.push(entry);
    }
  }
  return removed;
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
