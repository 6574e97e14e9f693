// The file service's settings, read from the environment by the deployed functions and built
// directly by tests. The variables:
//   DATA_DIR              files live in $DATA_DIR/store (default ./data); an older $DATA_DIR/files
//                         layout is moved into it at start
//   MAX_UPLOAD_BYTES      the largest file (default 5 GiB); larger bodies get 413 and leave nothing
//   AUTH_TOKEN            set: writes (upload, PUT, DELETE, tus) need `Authorization: Bearer <token>`
//   GC_INTERVAL_SECONDS   how often a replica looks for blobs no name points to (default 600)
//   GC_GRACE_SECONDS      how long such a blob stays before it goes (default 3600; blob-collector.ts)
//   UPLOAD_EXPIRY_SECONDS a resumable upload untouched this long is removed (default 86400)
// Each may be given as NAME_FILE instead (a swarm secret: @tarsd/sdk's envString).
import { resolve } from "node:path";
import { envInt, envString } from "@tarsd/sdk";

export interface FileServiceSettings {
  /** The data directory: the store is its store/ directory, the older layout its files/. */
  dataDir: string;
  /** The largest file, and the largest request body of the write routes (framing aside). */
  maxUploadBytes: number;
  /** The bearer token writes need; undefined: writes are open. */
  token?: string;
  /** How often the upload function's housekeeping pass runs (blob collector, abandoned uploads). */
  gcIntervalMs: number;
  /** How long a blob no name points to stays (blob-collector.ts). */
  gcGraceMs: number;
  /** A resumable upload untouched this long is removed. */
  uploadExpiryMs: number;
}

export const DEFAULT_MAX_UPLOAD_BYTES = 5 * 1024 ** 3;

/** The settings the environment gives (the variables above, with their defaults). */
export function fileServiceSettingsFromEnv(): FileServiceSettings {
  return {
    dataDir: resolve(envString("DATA_DIR", "./data")!),
    maxUploadBytes: envInt("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES),
    token: envString("AUTH_TOKEN"),
    gcIntervalMs: envInt("GC_INTERVAL_SECONDS", 600) * 1000,
    gcGraceMs: envInt("GC_GRACE_SECONDS", 3600) * 1000,
    uploadExpiryMs: envInt("UPLOAD_EXPIRY_SECONDS", 86_400) * 1000,
  };
}
