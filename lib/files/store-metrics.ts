// The file store's share of the disk, as Prometheus metrics on the registry the upload and download
// functions are built with (the process's default one when deployed, which the host serves at
// /metrics). Names are a contract with deploy/ (the disk budget in deploy/README.md): do not rename.
//   tarsd_files_store_bytes              the stored versions (blobs/), as of the last housekeeping pass
//   tarsd_files_store_uploads_bytes      resumable uploads in progress (uploads/), same
//   tarsd_files_filesystem_size_bytes    the filesystem the store is on (on the VMs: the master's disk,
//   tarsd_files_filesystem_avail_bytes   over NFS): its size and what unprivileged writers may still use
// The first two come from the figures the housekeeping pass keeps in the store (store-usage.ts), the
// last two from one statfs of the store's directory: a scrape reads one small file and makes one
// system call, never walks the store. A metric whose value cannot be had (no pass yet, the file server
// gone) has no sample in that scrape; a read that hangs (NFS) is given up after READ_TIMEOUT_MS and
// not started again while it hangs.
import { statfs } from "node:fs/promises";
import type { Metric, Registry } from "prom-client";
import type { StoreLayout } from "./store-layout.ts";
import { readStoreUsage } from "./store-usage.ts";

export const READ_TIMEOUT_MS = 1000;

/**
 * Registers the metrics on `registry` for the store at `layout`, unless they are there already: the
 * upload and the download function each build a service on the same directory, and a process runs
 * both (each deployed bundle has its own copy of this module, so the registry is what they share).
 */
export function fileStoreMetrics(registry: Registry, layout: StoreLayout): void {
  if (registry.getSingleMetric("tarsd_files_store_bytes")) return;
  const usage = boundedRead(() => readStoreUsage(layout));
  const filesystem = boundedRead(async () => {
    const fs = await statfs(layout.dir);
    const unit = (fs as { frsize?: number }).frsize ?? fs.bsize; // Linux counts blocks in f_frsize
    return { size: fs.blocks * unit, avail: fs.bavail * unit };
  });
  const gauge = (name: string, help: string, read: () => Promise<number | undefined>) => {
    const sample = async () => {
      const value = await read();
      return {
        name,
        help,
        type: "gauge",
        aggregator: "sum",
        values: value === undefined ? [] : [{ value, labels: {} }],
      };
    };
    registry.registerMetric(
      { name, help, type: "gauge", aggregator: "sum", get: sample, reset() {} } as unknown as Metric,
    );
  };
  gauge(
    "tarsd_files_store_bytes",
    "Bytes of the file store's stored versions (each once), as of the last housekeeping pass (GC_INTERVAL_SECONDS).",
    async () => (await usage())?.blobBytes,
  );
  gauge(
    "tarsd_files_store_uploads_bytes",
    "Bytes of the resumable uploads in progress in the file store, as of the last housekeeping pass.",
    async () => (await usage())?.uploadBytes,
  );
  gauge(
    "tarsd_files_filesystem_size_bytes",
    "Size of the filesystem the file store is on (statfs of its directory).",
    async () => (await filesystem())?.size,
  );
  gauge(
    "tarsd_files_filesystem_avail_bytes",
    "Bytes of that filesystem the store's writers may still use (statfs f_bavail).",
    async () => (await filesystem())?.avail,
  );
}

/**
 * `read` shared by the callers that come while it runs (the metrics of one scrape), undefined when it
 * fails or takes longer than READ_TIMEOUT_MS; one that hangs is not started again until it settles.
 */
function boundedRead<T>(read: () => Promise<T | undefined>): () => Promise<T | undefined> {
  let running: Promise<T | undefined> | undefined;
  return () => {
    const pending = running ??= read().catch(() => undefined).finally(() => (running = undefined));
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), READ_TIMEOUT_MS);
      void pending.then((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  };
}
