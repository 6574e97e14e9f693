// The file store's share of the disk: measured by the housekeeping pass (a new store at once), kept in
// the store for every replica, and reported on the registry the functions are built with, once per
// registry however many functions share it, with no sample while there is nothing to report.
import { afterEach, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import { downloadFunction } from "../../functions/download.ts";
import { uploadFunction } from "../../functions/upload.ts";
import { startInProcess } from "../../harness/in-process.ts";
import { scratchDirs } from "../../harness/runtime-process.ts";
import { FileService } from "../../lib/files/file-service.ts";
import { measureStoreUsage, readStoreUsage } from "../../lib/files/store-usage.ts";
// deno-lint-ignore no-sloppy-imports -- plain JS, typed by web/prom.d.ts
import { parseMetrics, scalar } from "../../web/prom.js";
import { defaultSettings } from "./serve-files.ts";

const scratch = scratchDirs(afterEach);

test("measured: each stored version once, resumable uploads apart, what is not a blob left out", async () => {
  const service = new FileService(defaultSettings(scratch("tarsd-usage-")));
  await service.start();
  const { store } = service;
  expect(await measureStoreUsage(store)).toEqual({ blobBytes: 0, blobs: 0, uploadBytes: 0 });
  await store.put(
    "a.txt",
    (async function* () {
      yield new TextEncoder().encode("a".repeat(1000));
    })(),
  );
  await store.put(
    "same.txt",
    (async function* () {
      yield new TextEncoder().encode("a".repeat(1000));
    })(),
  );
  await store.put(
    "b.txt",
    (async function* () {
      yield new TextEncoder().encode("b".repeat(300));
    })(),
  );
  mkdirSync(join(store.blobsDir, "zz"), { recursive: true });
  writeFileSync(join(store.blobsDir, "zz", "not-a-blob"), "x".repeat(50));
  writeFileSync(join(store.uploadsDir, "0123456789abcdef0123456789abcdef"), "u".repeat(700));
  expect(await measureStoreUsage(store)).toEqual({ blobBytes: 1300, blobs: 2, uploadBytes: 700 });
  await service.stop();
});

test("a new store is measured when housekeeping starts, not a pass later; a reader's service measures nothing", async () => {
  const dataDir = scratch("tarsd-usage-start-");
  const reader = new FileService(defaultSettings(dataDir));
  await reader.start();
  await reader.stop();
  expect(await readStoreUsage(reader.store)).toBeUndefined();
  const writer = new FileService(defaultSettings(dataDir)); // the pass itself every 10 minutes
  await writer.start({ housekeeping: true });
  await writer.stop(); // waits for the measurement begun at start
  expect(await readStoreUsage(writer.store)).toEqual({ blobBytes: 0, blobs: 0, uploadBytes: 0 });
});

test("a reader's replica reports the filesystem from its start, the store's figures once a pass measured them", async () => {
  const registry = new Registry();
  const download = downloadFunction(defaultSettings(scratch("tarsd-usage-reader-")), { registry });
  // built, not started: no store directory yet, so nothing to report (and nothing touched)
  const built = parseMetrics(await registry.metrics());
  expect(scalar(built, "tarsd_files_store_bytes")).toBeUndefined();
  expect(scalar(built, "tarsd_files_filesystem_size_bytes")).toBeUndefined();
  const host = await startInProcess({ download });
  try {
    const started = parseMetrics(await registry.metrics());
    expect(scalar(started, "tarsd_files_store_bytes")).toBeUndefined(); // no housekeeping here, no pass yet
    expect(scalar(started, "tarsd_files_filesystem_size_bytes")).toBeGreaterThan(0);
  } finally {
    await host.stop();
  }
});

test("both functions on one registry register the metrics once; a pass's figures are what it reports", async () => {
  const registry = new Registry();
  const settings = defaultSettings(scratch("tarsd-usage-metrics-"));
  const host = await startInProcess({
    upload: uploadFunction(settings, { registry }),
    download: downloadFunction(settings, { registry }),
  });
  try {
    expect((await fetch(`${host.url}/files/m.txt`, { method: "PUT", body: "m".repeat(321) })).status).toBe(201);
    await new FileService(settings).housekeepingPass(); // what the upload function runs every GC_INTERVAL_SECONDS
    const after = parseMetrics(await registry.metrics());
    expect(scalar(after, "tarsd_files_store_bytes")).toBe(321);
    expect(scalar(after, "tarsd_files_store_uploads_bytes")).toBe(0);
    const size = scalar(after, "tarsd_files_filesystem_size_bytes")!;
    expect(size).toBeGreaterThan(scalar(after, "tarsd_files_filesystem_avail_bytes")!);
  } finally {
    await host.stop();
  }
});
