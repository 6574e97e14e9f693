// How much of the disk the file store takes: the bytes of its stored versions (blobs/) and of the
// resumable uploads in progress (uploads/). Measuring stats every such file, so it is done by the
// housekeeping pass (file-service.ts: once per GC_INTERVAL_SECONDS, by the replica whose collector
// pass ran), never per scrape; the result is kept in the store, gc/usage.json, and every replica's
// /metrics reads that one small file (store-metrics.ts): all replicas sharing the directory report
// the same figures, as of the last pass.
import { readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { listBlobs } from "./blob-collector.ts";
import type { StoreLayout } from "./store-layout.ts";

export interface StoreUsage {
  /** Bytes of the stored versions, each once (identical uploads share one): named or awaiting collection. */
  blobBytes: number;
  blobs: number;
  /** Bytes of resumable uploads in progress, their bookkeeping included. */
  uploadBytes: number;
}

/** Files stat'ed at once: a round trip each over NFS. */
const STAT_BATCH = 32;

const usagePath = (layout: StoreLayout) => join(layout.gcDir, "usage.json");

/** Walks blobs/ and uploads/ (one stat per file); a file gone meanwhile is not counted. */
export async function measureStoreUsage(layout: StoreLayout): Promise<StoreUsage> {
  const blobSizes = await sizes((await listBlobs(layout)).map((sha256) => layout.blobPath(sha256)));
  const uploads = await readdir(layout.uploadsDir).catch(() => [] as string[]);
  const uploadSizes = await sizes(uploads.map((entry) => join(layout.uploadsDir, entry)));
  return { blobBytes: sum(blobSizes), blobs: blobSizes.length, uploadBytes: sum(uploadSizes) };
}

/** Measures the store and keeps the result in it for every replica's /metrics. */
export async function recordStoreUsage(layout: StoreLayout): Promise<StoreUsage> {
  const usage = await measureStoreUsage(layout);
  const tmp = layout.tempPath(".usage");
  try {
    await writeFile(tmp, JSON.stringify(usage));
    await rename(tmp, usagePath(layout)); // readers see the previous figures or these, whole
  } catch (err) {
    await rm(tmp, { force: true }); // a full disk: the last figures stay
    throw err;
  }
  return usage;
}

/** The figures the last pass recorded; undefined before the first (or when they cannot be read). */
export async function readStoreUsage(layout: StoreLayout): Promise<StoreUsage | undefined> {
  try {
    const usage = JSON.parse(await readFile(usagePath(layout), "utf8")) as Partial<StoreUsage>;
    const counts = [usage.blobBytes, usage.blobs, usage.uploadBytes];
    return counts.every((n) => Number.isSafeInteger(n) && n! >= 0) ? (usage as StoreUsage) : undefined;
  } catch {
    return undefined;
  }
}

/** The sizes of the regular files among `paths` (missing ones and directories left out). */
async function sizes(paths: string[]): Promise<number[]> {
  const found: number[] = [];
  for (let i = 0; i < paths.length; i += STAT_BATCH) {
    const batch = await Promise.all(
      paths.slice(i, i + STAT_BATCH).map((path) => stat(path).then((s) => (s.isFile() ? s.size : -1), () => -1)),
    );
    found.push(...batch.filter((size) => size >= 0));
  }
  return found;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
