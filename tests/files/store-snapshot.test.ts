// The file store's snapshot (lib/files/store-snapshot.ts), what deploy/backup takes of it, and its
// restore: each of the ways the store can change between the reading of the names and the copy of a
// blob, made to happen at that very moment (the `afterListing` hook) with the real collector; blobs
// shared with the previous snapshot; bytes that do not match their hash; restore's refusals.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { collectBlobs } from "../../lib/files/blob-collector.ts";
import { FileStore } from "../../lib/files/file-store.ts";
import { checkSnapshot, restoreStore, snapshotStore, storeIsEmpty } from "../../lib/files/store-snapshot.ts";
import { pointerTarget } from "../../lib/files/store-layout.ts";
import { tempDir as newTempDir } from "../../harness/runtime-process.ts";

const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = newTempDir(prefix);
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const sha = (data: string) => createHash("sha256").update(data).digest("hex");

async function* chunks(text: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(text);
}

async function newStore(): Promise<FileStore> {
  const store = new FileStore(join(tempDir("tarsd-snapshot-store-"), "store"));
  await store.init();
  return store;
}

/** Collector passes with no grace until `sha256`'s blob is gone (a pass marks, a later one removes). */
async function collectUntilGone(store: FileStore, sha256: string): Promise<void> {
  for (let pass = 0; pass < 50 && existsSync(store.blobPath(sha256)); pass++) {
    await collectBlobs(store, 0);
    await Bun.sleep(5);
  }
  expect(existsSync(store.blobPath(sha256))).toBe(false);
}

/** Every name of a store directory points at a blob that is there and holds the bytes its hash names. */
function namesWithBlobs(dir: string): Record<string, string> {
  const layout = new FileStore(dir);
  const out: Record<string, string> = {};
  for (const name of readdirSync(layout.namesDir)) {
    const target = readlinkSync(join(layout.namesDir, name));
    const hash = target.slice(target.lastIndexOf("/") + 1);
    expect({ name, target }).toEqual({ name, target: pointerTarget(hash) });
    const bytes = readFileSync(layout.blobPath(hash));
    expect({ name, sha256: createHash("sha256").update(bytes).digest("hex") }).toEqual({ name, sha256: hash });
    out[name] = bytes.toString();
  }
  return out;
}

describe("snapshotStore", () => {
  test("names and their blobs, each blob once, as a store directory; restored into an empty store", async () => {
    const store = await newStore();
    await store.put("a.txt", chunks("alpha"));
    await store.put("b.txt", chunks("beta"));
    await store.put("same-as-a.txt", chunks("alpha"));
    await store.put("empty", chunks(""));
    const out = join(tempDir("tarsd-snapshot-"), "files");
    const result = await snapshotStore(store.dir, out);
    expect(Object.keys(result.names).sort()).toEqual(["a.txt", "b.txt", "empty", "same-as-a.txt"]);
    expect(result.names["a.txt"]).toMatchObject({ sha256: sha("alpha"), size: 5 });
    expect(result.names["a.txt"]!.modified).toBe(lstatSync(join(store.namesDir, "a.txt")).mtimeMs);
    expect(result).toMatchObject({ blobs: 3, bytes: 9, copied: 3, linked: 0, dropped: [], reread: [], problems: [] });
    expect(readdirSync(out).sort()).toEqual(["blobs", "names"]);
    expect(namesWithBlobs(out)).toEqual({ "a.txt": "alpha", "b.txt": "beta", "same-as-a.txt": "alpha", empty: "" });
    expect(checkSnapshot(out, result.names, true)).toEqual([]);

    // Restored: the same names, versions and times, listed by the store as before.
    const restored = new FileStore(join(tempDir("tarsd-snapshot-restored-"), "store"));
    expect(storeIsEmpty(restored.dir)).toBe(true);
    expect(restoreStore(out, restored.dir, result.names)).toEqual({ names: 4, blobs: 3, bytes: 9 });
    await restored.init();
    expect(await restored.list()).toEqual(await store.list());
    expect(readdirSync(restored.tmpDir)).toEqual([]);
    expect(storeIsEmpty(restored.dir)).toBe(false);
  });

  test("a name replaced after the listing whose old blob the collector took: the new version is taken", async () => {
    const store = await newStore();
    await store.put("moving.txt", chunks("old version"));
    await store.put("steady.txt", chunks("steady"));
    const out = join(tempDir("tarsd-snapshot-"), "files");
    const result = await snapshotStore(store.dir, out, {
      afterListing: async () => {
        await store.put("moving.txt", chunks("new version"));
        await collectUntilGone(store, sha("old version"));
      },
    });
    expect(result.reread).toEqual(["moving.txt"]);
    expect(result.names["moving.txt"]).toMatchObject({ sha256: sha("new version"), size: 11 });
    expect(result.problems).toEqual([]);
    expect(namesWithBlobs(out)).toEqual({ "moving.txt": "new version", "steady.txt": "steady" });
  });

  test("a name replaced after the listing whose old blob is still there: the version of the listing", async () => {
    const store = await newStore();
    await store.put("moving.txt", chunks("old version"));
    const out = join(tempDir("tarsd-snapshot-"), "files");
    const result = await snapshotStore(store.dir, out, {
      afterListing: async () => void await store.put("moving.txt", chunks("new version")),
    });
    expect(result.reread).toEqual([]);
    expect(namesWithBlobs(out)).toEqual({ "moving.txt": "old version" });
  });

  test("a name deleted after the listing whose blob the collector took is dropped; one whose blob stays is kept", async () => {
    const store = await newStore();
    await store.put("gone.txt", chunks("deleted and collected"));
    await store.put("deleted-late.txt", chunks("deleted, blob still there"));
    await store.put("kept.txt", chunks("kept"));
    const out = join(tempDir("tarsd-snapshot-"), "files");
    const result = await snapshotStore(store.dir, out, {
      afterListing: async () => {
        await store.delete("gone.txt");
        await collectUntilGone(store, sha("deleted and collected"));
        await store.delete("deleted-late.txt");
      },
    });
    expect(result.dropped).toEqual(["gone.txt"]);
    expect(result.problems).toEqual([]);
    expect(namesWithBlobs(out)).toEqual({ "deleted-late.txt": "deleted, blob still there", "kept.txt": "kept" });
  });

  test("a name still pointing at a missing blob is read again, then reported; bytes that do not match their hash are not taken", async () => {
    const store = await newStore();
    await store.put("broken.txt", chunks("its blob goes"));
    await store.put("corrupt.txt", chunks("its bytes change"));
    await store.put("fine.txt", chunks("fine"));
    rmSync(store.blobPath(sha("its blob goes")));
    writeFileSync(store.blobPath(sha("its bytes change")), "its bytes changed");
    const out = join(tempDir("tarsd-snapshot-"), "files");
    const started = Date.now();
    const result = await snapshotStore(store.dir, out, { missingBlobWaitMs: 300 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(result.problems).toEqual([
      `broken.txt: its blob ${sha("its blob goes")} is missing`,
      `corrupt.txt: the bytes of blob ${sha("its bytes change")} hash to ${sha("its bytes changed")}: not taken`,
    ]);
    expect(namesWithBlobs(out)).toEqual({ "fine.txt": "fine" });
  });

  test("a blob the previous snapshot holds is hard-linked from it, a new one copied", async () => {
    const store = await newStore();
    await store.put("a.txt", chunks("alpha"));
    const dir = tempDir("tarsd-snapshot-");
    const first = await snapshotStore(store.dir, join(dir, "1"));
    await store.put("b.txt", chunks("beta"));
    const second = await snapshotStore(store.dir, join(dir, "2"), { linkFrom: join(dir, "1") });
    expect(second).toMatchObject({ copied: 1, linked: 1, blobs: 2 });
    const inode = (snapshot: string, text: string) =>
      statSync(new FileStore(join(dir, snapshot)).blobPath(sha(text))).ino;
    expect(inode("2", "alpha")).toBe(inode("1", "alpha"));
    expect(namesWithBlobs(join(dir, "2"))).toEqual({ "a.txt": "alpha", "b.txt": "beta" });
    // The older one removed (as the backup keeps only the newest): the newer one is whole.
    rmSync(join(dir, "1"), { recursive: true });
    expect(checkSnapshot(join(dir, "2"), second.names, true)).toEqual([]);
    expect(first.copied).toBe(1);
  });

  test("not enough room for the blobs to copy: refused before anything is copied", async () => {
    const store = await newStore();
    await store.put("a.txt", chunks("alpha"));
    const out = join(tempDir("tarsd-snapshot-"), "files");
    const error = await snapshotStore(store.dir, out, { reserveBytes: Number.MAX_SAFE_INTEGER }).catch((e) => e);
    expect(String(error)).toContain("not enough room");
    expect(readdirSync(join(out, "names"))).toEqual([]);
  });
});

describe("restoreStore", () => {
  test("refuses a store with names or blobs unless forced; forced, the snapshot's names replace the store's", async () => {
    const source = await newStore();
    await source.put("a.txt", chunks("alpha"));
    await source.put("b.txt", chunks("beta"));
    const out = join(tempDir("tarsd-snapshot-"), "files");
    const { names } = await snapshotStore(source.dir, out);

    const target = await newStore();
    await target.put("a.txt", chunks("local a"));
    await target.put("mine.txt", chunks("mine"));
    expect(() => restoreStore(out, target.dir, names)).toThrow("is not empty");
    expect(namesWithBlobs(target.dir)).toEqual({ "a.txt": "local a", "mine.txt": "mine" });
    // A blob alone (no name) makes it non-empty too.
    const blobOnly = await newStore();
    await blobOnly.put("x", chunks("x"));
    unlinkSync(join(blobOnly.namesDir, "x"));
    expect(storeIsEmpty(blobOnly.dir)).toBe(false);

    expect(restoreStore(out, target.dir, names, { force: true, owner: { uid: 1234, gid: 4321 } }).names).toBe(2);
    expect(namesWithBlobs(target.dir)).toEqual({ "a.txt": "alpha", "b.txt": "beta", "mine.txt": "mine" });
    const pointer = lstatSync(join(target.namesDir, "b.txt"));
    const blob = statSync(target.blobPath(sha("beta")));
    if (process.getuid?.() === 0) {
      expect([pointer.uid, pointer.gid, blob.uid, blob.gid]).toEqual([1234, 4321, 1234, 4321]);
    }
  });

  test("a snapshot missing a blob, or whose blob's bytes changed, restores nothing of the broken name", async () => {
    const source = await newStore();
    await source.put("a.txt", chunks("alpha"));
    const out = join(tempDir("tarsd-snapshot-"), "files");
    const { names } = await snapshotStore(source.dir, out);
    const blob = new FileStore(out).blobPath(sha("alpha"));
    writeFileSync(blob, "ALPHA");
    const target = join(tempDir("tarsd-snapshot-restored-"), "store");
    expect(() => restoreStore(out, target, names)).toThrow(`hashes to ${sha("ALPHA")}`);
    expect(checkSnapshot(out, names, true)).toEqual([`a.txt: blob ${sha("alpha")} hashes to ${sha("ALPHA")}`]);
    rmSync(blob);
    expect(() => restoreStore(out, target, names)).toThrow("the snapshot is incomplete");
    expect(readdirSync(join(target, "names"))).toEqual([]);
  });
});
