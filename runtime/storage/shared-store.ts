// The one FileStore of this process, configured from the environment, shared by every function
// that touches files (upload, download) so they agree on where files live and how big they may be.
import { join, resolve } from "node:path";
import { envInt, envString } from "../env.ts";
import { FileStore } from "./file-store.ts";

export const DEFAULT_MAX_UPLOAD_BYTES = 5 * 1024 ** 3;

let store: FileStore | undefined;

export function fileStore(): FileStore {
  store ??= new FileStore(join(resolve(envString("DATA_DIR", "./data")!), "files"));
  return store;
}

export function maxUploadBytes(): number {
  return envInt("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES);
}
