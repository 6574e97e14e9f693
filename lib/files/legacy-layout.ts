// The layout before the content-addressed store: <DATA_DIR>/files/<name> (the bytes), .meta/<name>
// (a sha256 sidecar) and .tmp/. At start every such file is moved into the store, idempotently and
// without a moment where it is absent: its bytes are hard-linked into tmp/ and adopted as a blob, the
// name is created only if the store has no such name yet (a newer upload through the store wins),
// and only then is the old entry unlinked. A crash anywhere leaves the old file or the new name (or
// both, which the next start finishes); several replicas migrating at once do the same steps.
import { link, lstat, lutimes, open, readdir, rm, rmdir, symlink, unlink } from "node:fs/promises";
import { join } from "node:path";
import { syncDir } from "../disk/directory-sync.ts";
import type { FileStore } from "./file-store.ts";
import { pointerTarget } from "./store-layout.ts";
import { sha256Of } from "./stream-utils.ts";
import { validateName } from "./names.ts";

export interface Migration {
  migrated: string[];
  /** Entries that are not files this store can hold (left where they are). */
  skipped: string[];
}

export async function migrateLegacyLayout(legacyDir: string, store: FileStore): Promise<Migration> {
  const result: Migration = { migrated: [], skipped: [] };
  const entries = await readdir(legacyDir).catch(() => undefined);
  if (entries === undefined) return result;
  for (const name of entries.sort()) {
    if (name === ".meta" || name === ".tmp") continue;
    const path = join(legacyDir, name);
    const info = await lstat(path).catch(() => undefined);
    if (info === undefined) continue; // another replica moved it meanwhile
    try {
      if (!info.isFile()) throw new Error("not a regular file");
      validateName(name);
    } catch {
      result.skipped.push(name);
      continue;
    }
    const tmp = store.tempPath();
    await link(path, tmp);
    const staged = { tmp, sha256: await sha256OfFile(tmp), size: info.size };
    await store.adopt(staged);
    const pointer = join(store.namesDir, name);
    const created = await symlink(pointerTarget(staged.sha256), pointer).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === "EEXIST") return false;
        throw err;
      },
    );
    if (created) await lutimes(pointer, info.atime, info.mtime).catch(() => {}); // keep Last-Modified
    await syncDir(store.namesDir);
    await store.settle(staged);
    await unlink(path).catch(() => {});
    result.migrated.push(name);
  }
  await rm(join(legacyDir, ".meta"), { recursive: true, force: true });
  await rm(join(legacyDir, ".tmp"), { recursive: true, force: true });
  await rmdir(legacyDir).catch(() => {}); // left when something could not be moved
  return result;
}

async function sha256OfFile(path: string): Promise<string> {
  const handle = await open(path, "r");
  try {
    return await sha256Of(handle);
  } finally {
    await handle.close();
  }
}
