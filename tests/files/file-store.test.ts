import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DomainError } from "@tarsd/sdk";
import { collectBlobs } from "../../lib/files/blob-collector.ts";
import { FileStore } from "../../lib/files/file-store.ts";
import { migrateLegacyLayout } from "../../lib/files/legacy-layout.ts";
import { openStream } from "../../lib/files/stream-utils.ts";
import { tempDir } from "../../harness/runtime-process.ts";

const sha = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === "string" ? new TextEncoder().encode(part) : part;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

/** The bytes of the version `name` points at now, read from its blob. */
async function current(store: FileStore, name: string): Promise<string> {
  const file = await store.resolve(name);
  return await readAll(await openStream(file.path, 0, file.size - 1));
}

async function newStore(): Promise<FileStore> {
  const store = new FileStore(join(tempDir(), "files"));
  await store.init();
  return store;
}

describe("FileStore", () => {
  test("put stores the bytes with their sha256 and reports replacement", async () => {
    const store = await newStore();
    const first = await store.put("a.txt", chunks("hello ", "world"));
    expect(first).toMatchObject({ name: "a.txt", size: 11, sha256: sha("hello world"), replaced: false });
    expect(readFileSync(join(store.namesDir, "a.txt"), "utf8")).toBe("hello world");
    const second = await store.put("a.txt", chunks("bye"));
    expect(second).toMatchObject({ size: 3, sha256: sha("bye"), replaced: true });
    expect((await store.resolve("a.txt")).sha256).toBe(sha("bye"));
    expect(await current(store, "a.txt")).toBe("bye");
  });

  test("a bad name is refused before the body is read or anything written; the older version stays", async () => {
    const store = await newStore();
    await store.put("keep.bin", chunks("old"));
    for (const name of [".keep.bin", "a/b", "a\\b", "", "x".repeat(256)]) {
      let read = false;
      const body = async function* (): AsyncGenerator<Uint8Array> {
        read = true;
        yield new TextEncoder().encode("new");
      };
      const error = await store.stage(name, body()).catch((err) => err);
      expect(error).toBeInstanceOf(DomainError);
      expect({ name, kind: error.kind, read }).toEqual({ name, kind: "invalid_name", read: false });
      expect(await store.put(name, body()).catch((err) => err.kind)).toBe("invalid_name");
      expect(read).toBe(false);
    }
    expect(readdirSync(store.namesDir)).toEqual(["keep.bin"]);
    expect(readFileSync(join(store.namesDir, "keep.bin"), "utf8")).toBe("old");
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });

  test("a body that fails midway leaves no file and no temp file", async () => {
    const store = await newStore();
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(1000);
      throw new Error("client went away");
    }
    await expect(store.put("half.bin", broken())).rejects.toThrow("client went away");
    expect(existsSync(join(store.namesDir, "half.bin"))).toBe(false);
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });

  test("a byte range of the version that was resolved, even if replaced meanwhile", async () => {
    const store = await newStore();
    await store.put("r.txt", chunks("0123456789"));
    const resolved = await store.resolve("r.txt");
    await store.put("r.txt", chunks("abcdefghijklmnop"));
    expect(resolved.size).toBe(10);
    expect(await readAll(await openStream(resolved.path, 2, 5))).toBe("2345");
    expect(await current(store, "r.txt")).toBe("abcdefghijklmnop");
  });

  test("list; delete removes the name (its blob stays for the collector); unknown names are 404", async () => {
    const store = await newStore();
    await store.put("x.txt", chunks("x"));
    await store.put("y.txt", chunks("yy"));
    expect((await store.list()).map((f) => f.name)).toEqual(["x.txt", "y.txt"]);
    await store.delete("x.txt");
    expect(existsSync(join(store.namesDir, "x.txt"))).toBe(false);
    expect(existsSync(store.blobPath(sha("x")))).toBe(true);
    expect((await store.list()).map((f) => f.name)).toEqual(["y.txt"]);
    await expect(store.delete("x.txt")).rejects.toMatchObject({ kind: "not_found" });
    await expect(store.resolve("nope")).rejects.toMatchObject({ kind: "not_found" });
  });

  test("cleanupTemps removes a dead process's temp files and stale ones, keeps live ones", async () => {
    const store = await newStore();
    const host = (await import("node:os")).hostname();
    const uuid = "0b9d6f52-7c1e-4a44-9d7f-2f5a3c1b9e10";
    const dead = `${host}-999999-${uuid}`;
    const live = `${host}-${process.pid}-${uuid}`;
    const staleOther = `other-host-1-${uuid}`;
    const freshOther = `other-host-2-${uuid}`;
    for (const name of [dead, live, staleOther, freshOther]) writeFileSync(join(store.tmpDir, name), "partial");
    const old = new Date(Date.now() - 60 * 60 * 1000);
    utimesSync(join(store.tmpDir, staleOther), old, old);
    const removed = await store.cleanupTemps();
    expect(removed.sort()).toEqual([dead, staleOther].sort());
    expect(readdirSync(store.tmpDir).sort()).toEqual([freshOther, live].sort());
  });
});

describe("content addressing", () => {
  const blobCount = (store: FileStore) =>
    readdirSync(store.blobsDir).flatMap((prefix) => readdirSync(join(store.blobsDir, prefix))).length;

  test("identical uploads are stored once; a name points at the blob named by its sha256", async () => {
    const store = await newStore();
    await store.put("one.txt", chunks("same bytes"));
    await store.put("two.txt", chunks("same ", "bytes"));
    expect(blobCount(store)).toBe(1);
    const resolved = await store.resolve("two.txt");
    expect(resolved.path).toBe(store.blobPath(sha("same bytes")));
    expect(readlinkSync(join(store.namesDir, "one.txt"))).toBe(
      `../blobs/${sha("same bytes").slice(0, 2)}/${sha("same bytes")}`,
    );
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });

  test("replacing a name leaves the blob a reader resolved untouched", async () => {
    const store = await newStore();
    await store.put("v.txt", chunks("version 1"));
    const first = await store.resolve("v.txt");
    await store.put("v.txt", chunks("version 2"));
    expect(readFileSync(first.path, "utf8")).toBe("version 1");
    expect((await store.resolve("v.txt")).sha256).toBe(sha("version 2"));
  });

  test("all or none: a name that cannot be committed undoes the names committed before it", async () => {
    const store = await newStore();
    await store.put("kept.txt", chunks("old kept"));
    // A directory where the third pointer must go: its rename fails after the first two succeeded.
    mkdirSync(join(store.namesDir, "blocked.txt", "inside"), { recursive: true });
    const staged = [
      await store.stage("kept.txt", chunks("new kept")),
      await store.stage("fresh.txt", chunks("fresh")),
      await store.stage("blocked.txt", chunks("blocked")),
    ];
    await expect(store.commit(staged)).rejects.toThrow();
    expect(readFileSync(join(store.namesDir, "kept.txt"), "utf8")).toBe("old kept");
    expect(existsSync(join(store.namesDir, "fresh.txt"))).toBe(false);
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });
});

describe("blob collector", () => {
  test("a blob no name points to is marked, and removed only a full grace later", async () => {
    const store = await newStore();
    await store.put("a.txt", chunks("doomed"));
    await store.put("b.txt", chunks("kept"));
    await store.delete("a.txt");
    const first = await collectBlobs(store, 200);
    expect(first).toMatchObject({ removed: [], marked: 1 });
    expect(existsSync(store.blobPath(sha("doomed")))).toBe(true);
    await Bun.sleep(250);
    const second = await collectBlobs(store, 200);
    expect(second.removed).toEqual([sha("doomed")]);
    expect(existsSync(store.blobPath(sha("doomed")))).toBe(false);
    expect(existsSync(store.blobPath(sha("kept")))).toBe(true);
  });

  test("a blob touched after its mark (a writer about to point a name at it) stays", async () => {
    const store = await newStore();
    await store.put("a.txt", chunks("reused"));
    await store.delete("a.txt");
    await collectBlobs(store, 100);
    await Bun.sleep(150);
    const { staged } = await store.stage("again.txt", chunks("reused"));
    await store.adopt(staged); // the touch; the pointer would follow
    expect((await collectBlobs(store, 100)).removed).toEqual([]);
    await store.commit([await store.stage("again.txt", chunks("reused"))]);
    await Bun.sleep(150);
    expect((await collectBlobs(store, 100)).removed).toEqual([]);
    expect(await current(store, "again.txt")).toBe("reused");
  });

  test("one pass at a time: a live lock makes another replica's pass skip", async () => {
    const store = await newStore();
    mkdirSync(join(store.gcDir, "lock"));
    expect((await collectBlobs(store, 0)).skipped).toBe(true);
  });
});

describe("the layout before the store", () => {
  function legacy(): { dataDir: string; legacyDir: string } {
    const dataDir = tempDir();
    const legacyDir = join(dataDir, "files");
    mkdirSync(join(legacyDir, ".meta"), { recursive: true });
    mkdirSync(join(legacyDir, ".tmp"), { recursive: true });
    writeFileSync(join(legacyDir, "report.pdf"), "pdf bytes");
    writeFileSync(join(legacyDir, "copy.pdf"), "pdf bytes");
    writeFileSync(join(legacyDir, "notes.txt"), "notes");
    writeFileSync(
      join(legacyDir, ".meta", "report.pdf"),
      JSON.stringify({ sha256: sha("pdf bytes"), size: 9, ino: 1 }),
    );
    writeFileSync(join(legacyDir, ".tmp", "host-1-upload"), "partial");
    const old = new Date("2024-01-02T03:04:05Z");
    utimesSync(join(legacyDir, "notes.txt"), old, old);
    return { dataDir, legacyDir };
  }

  test("every file moves into the store with its bytes and modification time; the old directory goes", async () => {
    const { dataDir, legacyDir } = legacy();
    const store = new FileStore(join(dataDir, "store"));
    await store.init();
    const migration = await migrateLegacyLayout(legacyDir, store);
    expect(migration).toEqual({ migrated: ["copy.pdf", "notes.txt", "report.pdf"], skipped: [] });
    expect((await store.list()).map((f) => [f.name, f.sha256])).toEqual([
      ["copy.pdf", sha("pdf bytes")],
      ["notes.txt", sha("notes")],
      ["report.pdf", sha("pdf bytes")],
    ]);
    expect((await store.resolve("notes.txt")).modified.toISOString()).toBe("2024-01-02T03:04:05.000Z");
    expect(existsSync(legacyDir)).toBe(false);
    expect(await migrateLegacyLayout(legacyDir, store)).toEqual({ migrated: [], skipped: [] }); // idempotent
  });

  test("interrupted midway and run again: nothing lost; a name uploaded through the store meanwhile wins", async () => {
    const { dataDir, legacyDir } = legacy();
    const store = new FileStore(join(dataDir, "store"));
    await store.init();
    // As if a first run had made report.pdf's name and died before unlinking the old file...
    await store.commit([await store.stage("report.pdf", chunks("pdf bytes"))]);
    // ...and a client had uploaded a newer notes.txt through the store since.
    await store.put("notes.txt", chunks("newer notes"));
    await migrateLegacyLayout(legacyDir, store);
    expect(readFileSync(join(store.namesDir, "report.pdf"), "utf8")).toBe("pdf bytes");
    expect(readFileSync(join(store.namesDir, "notes.txt"), "utf8")).toBe("newer notes");
    expect(readFileSync(join(store.namesDir, "copy.pdf"), "utf8")).toBe("pdf bytes");
    expect(existsSync(legacyDir)).toBe(false);
  });
});
