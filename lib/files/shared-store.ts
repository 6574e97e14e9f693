// The one FileStore of this process, shared by every function that touches files (upload,
// download) so they agree on where files live and how big they may be. Their settings are read once,
// when the first of them loads:
//   DATA_DIR           files live in $DATA_DIR/files (default ./data)
//   MAX_UPLOAD_BYTES   the largest file (default 5 GiB); larger bodies get 413 and leave nothing
//   AUTH_TOKEN         set: writes (upload, PUT, DELETE) need `Authorization: Bearer <token>`
import { join, resolve } from "node:path";
import { envInt, envString } from "../../runtime/env.ts";
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
