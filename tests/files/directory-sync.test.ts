// A failed directory fsync through the store's seam for it (FileStoreOptions.fsyncDirectory, the
// DirectorySync constructor): it fails every caller it was to cover and none other, and a commit it
// fails is undone, several names at once included. The same failures on a real runtime process,
// injected by strace with no seam at all, are in fsync.test.ts.
import { describe, expect, test } from "bun:test";
import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { DomainError } from "@tarsd/sdk";
import { DirectorySync, type FsyncFd, syncDir } from "../../lib/disk/directory-sync.ts";
import { FileStore } from "../../lib/files/file-store.ts";
import { tempDir } from "../../harness/runtime-process.ts";

const errno = (code: string) => Object.assign(new Error(`${code}: injected, fsync`), { code });

async function* chunks(text: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(text);
}

/** An fsync that waits until the test settles it, recording which directory each call was for. */
function heldFsync() {
  const calls: { dir: string; settle: (err?: Error) => void }[] = [];
  const fsync: FsyncFd = (fd) =>
    new Promise<void>((resolve, reject) => {
      const dir = readlinkSync(`/proc/self/fd/${fd}`);
      calls.push({ dir, settle: (err) => (err ? reject(err) : resolve()) });
    });
  return { calls, fsync };
}

const settledOf = (promise: Promise<void>) => {
  const state = { value: "pending" as string };
  promise.then(() => (state.value = "done"), (err: NodeJS.ErrnoException) => (state.value = err.code ?? String(err)));
  return state;
};

describe("DirectorySync", () => {
  test("a failed fsync fails its callers; those who came meanwhile get a fsync of their own", async () => {
    const dir = tempDir("tarsd-dirsync-");
    const held = heldFsync();
    const sync = new DirectorySync(dir, held.fsync);
    const first = settledOf(sync.sync());
    await Bun.sleep(0);
    expect(held.calls.map((c) => c.dir)).toEqual([dir]); // the fsync is the directory's own
    const queued = [settledOf(sync.sync()), settledOf(sync.sync())]; // renamed after it started
    held.calls[0]!.settle(errno("EIO"));
    await Bun.sleep(5);
    expect(first.value).toBe("EIO");
    expect(queued.map((q) => q.value)).toEqual(["pending", "pending"]); // not the failed one's outcome
    expect(held.calls.length).toBe(2); // one more fsync, shared by both
    held.calls[1]!.settle();
    await Bun.sleep(5);
    expect(queued.map((q) => q.value)).toEqual(["done", "done"]);
    // And the other way round: a failure after a success fails the ones it covers.
    const later = settledOf(sync.sync());
    await Bun.sleep(0);
    held.calls[2]!.settle(errno("ENOSPC"));
    await Bun.sleep(5);
    expect(later.value).toBe("ENOSPC");
  });

  test("syncDir rejects with the system's error, but for EINVAL (no fsync for this kind of file)", async () => {
    const dir = tempDir("tarsd-dirsync-");
    for (const code of ["EIO", "ENOSPC", "EDQUOT", "EROFS"]) {
      expect(await syncDir(dir, () => Promise.reject(errno(code))).catch((err) => err.code)).toBe(code);
    }
    expect(await syncDir(dir, () => Promise.reject(errno("EINVAL")))).toBeUndefined();
    expect(await syncDir(dir)).toBeUndefined(); // the real fsync(2)
  });
});

describe("FileStore with a failing directory fsync", () => {
  async function storeFailing(failOn: (dir: string) => string | undefined) {
    const root = join(tempDir("tarsd-dirsync-"), "store");
    let failing = false;
    const store = new FileStore(root, {
      fsyncDirectory: (fd) => {
        const code = failing ? failOn(readlinkSync(`/proc/self/fd/${fd}`)) : undefined;
        return code === undefined ? Promise.resolve() : Promise.reject(errno(code));
      },
    });
    await store.init();
    const state = () => ({
      names: readdirSync(store.namesDir).sort(),
      tmp: readdirSync(store.tmpDir),
    });
    return { store, state, fail: (on: boolean) => (failing = on) };
  }

  test("ENOSPC on the new blob's directory: storage_full (507), nothing stored", async () => {
    const { store, state, fail } = await storeFailing((dir) => (dir.includes("/blobs") ? "ENOSPC" : undefined));
    fail(true);
    const error = await store.put("a.txt", chunks("new bytes")).catch((err) => err);
    expect(error).toBeInstanceOf(DomainError);
    expect(error.kind).toBe("storage_full");
    expect(state()).toEqual({ names: [], tmp: [] });
    expect(await store.resolve("a.txt").catch((err) => err.kind)).toBe("not_found");
  });

  test("EIO on names/: the error, and every name of the commit as it was (new ones gone, replaced ones back)", async () => {
    const { store, state, fail } = await storeFailing((dir) => (dir.endsWith("/names") ? "EIO" : undefined));
    await store.put("old.txt", chunks("old"));
    await store.put("alone.txt", chunks("alone"));
    fail(true);
    const before = state();
    // Several names at once (the undo copies made beforehand), and one name alone (made again on failure).
    const staged = [await store.stage("old.txt", chunks("replacing")), await store.stage("new.txt", chunks("new"))];
    expect(await store.commit(staged).catch((err) => err.code)).toBe("EIO");
    expect(await store.put("alone.txt", chunks("replacing alone")).catch((err) => err.code)).toBe("EIO");
    expect(await store.put("fresh.txt", chunks("fresh")).catch((err) => err.code)).toBe("EIO");
    expect(state()).toEqual(before);
    const text = async (name: string) => {
      const file = await store.resolve(name);
      return await Bun.file(file.path).text();
    };
    expect({ old: await text("old.txt"), alone: await text("alone.txt") }).toEqual({ old: "old", alone: "alone" });
    fail(false);
    expect((await store.put("new.txt", chunks("new"))).name).toBe("new.txt"); // works again once fsync does
  });
});
