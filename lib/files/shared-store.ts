// The FileStore of the functions that touch files (upload, download), so they agree on where files
// live and how big they may be. Deployed as bundles, each function has its own copy of this module:
// two stores on one directory in one process are as safe as replicas sharing it over NFS, which is
// what the store is made for. The settings are read once, when the function loads:
//   DATA_DIR              files live in $DATA_DIR/store (default ./data); an older $DATA_DIR/files
//                         layout is moved into it at start
//   MAX_UPLOAD_BYTES      the largest file (default 5 GiB); larger bodies get 413 and leave nothing
//   AUTH_TOKEN            set: writes (upload, PUT, DELETE, tus) need `Authorization: Bearer <token>`
//   GC_INTERVAL_SECONDS   how often a replica looks for blobs no name points to (default 600)
//   GC_GRACE_SECONDS      how long such a blob stays before it goes (default 3600; blob-collector.ts)
//   UPLOAD_EXPIRY_SECONDS a resumable upload untouched this long is removed (default 86400)
import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { envInt, envString } from "@tarsd/sdk";
import { collectBlobs } from "./blob-collector.ts";
import { FileStore } from "./file-store.ts";
import { migrateLegacyLayout } from "./legacy-layout.ts";
import { ResumableUploads } from "./resumable-uploads.ts";

export const DEFAULT_MAX_UPLOAD_BYTES = 5 * 1024 ** 3;

export const fileServiceConfig = {
  dataDir: resolve(envString("DATA_DIR", "./data")!),
  maxUploadBytes: envInt("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES),
  token: envString("AUTH_TOKEN"),
  gcIntervalMs: envInt("GC_INTERVAL_SECONDS", 600) * 1000,
  gcGraceMs: envInt("GC_GRACE_SECONDS", 3600) * 1000,
  uploadExpiryMs: envInt("UPLOAD_EXPIRY_SECONDS", 86_400) * 1000,
} as const;

let store: FileStore | undefined;
let uploads: ResumableUploads | undefined;
let started: Promise<void> | undefined;

export function fileStore(): FileStore {
  store ??= new FileStore(join(fileServiceConfig.dataDir, "store"));
  return store;
}

/** The tus uploads in progress, in the store's uploads/ directory. */
export function resumableUploads(): ResumableUploads {
  uploads ??= new ResumableUploads(fileStore(), {
    maxBytes: fileServiceConfig.maxUploadBytes,
    expiryMs: fileServiceConfig.uploadExpiryMs,
  });
  return uploads;
}

/**
 * Prepares the store (once per module): directories and the old layout moved in. With
 * `housekeeping`, also the periodic pass (blob collector, abandoned uploads): only the upload
 * function asks for it (writers make the garbage), so a replica running both deployed bundles, each
 * with its own copy of this module, runs one pass, not two.
 */
export async function startFileStore(options: { housekeeping?: boolean } = {}): Promise<void> {
  started ??= (async () => {
    const files = fileStore();
    await files.init();
    const migration = await migrateLegacyLayout(join(fileServiceConfig.dataDir, "files"), files);
    if (migration.migrated.length + migration.skipped.length > 0) {
      console.log(JSON.stringify({ level: "info", msg: "moved files into the content-addressed store", ...migration }));
    }
  })();
  await started;
  if (options.housekeeping) housekeeping ??= setInterval(housekeepingPass, fileServiceConfig.gcIntervalMs).unref();
}

/**
 * Throws unless the store's directory answers: what a replica whose file server is gone (NFS) must
 * say on /readyz. A stat of names/ goes to the server (the stack mounts without attribute caching).
 */
export async function storeReachable(): Promise<void> {
  await stat(fileStore().namesDir);
}

let housekeeping: ReturnType<typeof setInterval> | undefined;

async function housekeepingPass(): Promise<void> {
  try {
    await collectBlobs(fileStore(), fileServiceConfig.gcGraceMs);
    const expired = await resumableUploads().expire();
    if (expired.length > 0) {
      console.log(JSON.stringify({ level: "info", msg: "removed abandoned uploads", uploads: expired }));
    }
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "store housekeeping failed", error: String(err) }));
  }
}
