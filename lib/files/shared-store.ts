// The FileStore of the functions that touch files (upload, download), so they agree on where files
// live and how big they may be. Deployed as bundles, each function has its own copy of this module:
// two stores on one directory in one process are as safe as replicas sharing it over NFS, which is
// what the store is made for. The settings are read once, when the function loads:
//   DATA_DIR           files live in $DATA_DIR/files (default ./data)
//   MAX_UPLOAD_BYTES   the largest file (default 5 GiB); larger bodies get 413 and leave nothing
//   AUTH_TOKEN         set: writes (upload, PUT, DELETE) need `Authorization: Bearer <token>`
import { join, resolve } from "node:path";
import { envInt, envString } from "../env.ts";
import { FileStore } from "./file-store.ts";

export const DEFAULT_MAX_UPLOAD_BYTES = 5 * 1024 ** 3;

export const fileServiceConfig = {
  dataDir: resolve(envString("DATA_DIR", "./data")!),
  maxUploadBytes: envInt("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES),
  token: envString("AUTH_TOKEN"),
} as const;

let store: FileStore | undefined;

export function fileStore(): FileStore {
  store ??= new FileStore(join(fileServiceConfig.dataDir, "files"));
  return store;
}
