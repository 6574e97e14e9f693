import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DomainError } from "@tarsd/sdk";
import { collectBlobs } from "../../lib/files/blob-collector.ts";
import { FileStore } from "../../lib/files/file-store.ts";
import { migrateLegacyLayout } from "../../lib/files/legacy-layout.ts";
import { tempDir } from "../../harness/runtime-process.ts";

const sha = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === "string" ? new TextEncoder().encode(part) : part;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

async function newStore(): Promise<FileStore> {
  const store = new FileStore(join(tempDir(), "files"));
  await store.init();
  return store;
}

describe("FileStore", () => {
  test("put stores the bytes with their sha256 and reports replacement", async () => {
    const store = await newStore();
    const first = await store.put("a.txt", chunks("hello ", "world"), 1000);
    expect(first).toMatchObject({ name: "a.txt", size: 11, sha256: sha("hello world"), replaced: false });
    expect(readFileSync(join(store.namesDir, "a.txt"), "utf8")).toBe("hello world");
    const second = await store.put("a.txt", chunks("bye"), 1000);
    expect(second).toMatchObject({ size: 3, sha256: sha("bye"), replaced: true });
    const opened = await store.open("a.txt");
    expect(opened.sha256).toBe(sha("bye"));
    expect(await readAll(opened.stream())).toBe("bye");
  });

  test("over the limit: 413 and nothing left behind, older version intact", async () => {
    const store = await newStore();
    await store.put("keep.bin", chunks("old"), 10);
    let error: unknown;
    try {
      await store.put("keep.bin", chunks("123456", "789012"), 10);
    } catch (err) {
      error = err;
    }
    expect((error as DomainError).kind).toBe("too_large");
    expect(readFileSync(join(store.namesDir, "keep.bin"), "utf8")).toBe("old");
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });

  test("a body that fails midway leaves no file and no temp file", async () => {
    const store = await newStore();
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(1000);
      throw new Error("client went away");
    }
    await expect(store.put("half.bin", broken(), 1e6)).rejects.toThrow("client went away");
    expect(existsSync(join(store.namesDir, "half.bin"))).toBe(false);
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });

  test("streams a byte range of the version that was opened, even if replaced meanwhile", async () => {
    const store = await newStore();
    await store.put("r.txt", chunks("0123456789"), 100);
    const opened = await store.open("r.txt");
    await store.put("r.txt", chunks("abcdefghijklmnop"), 100);
    expect(opened.size).toBe(10);
    expect(await readAll(opened.stream(2, 5))).toBe("2345");
  });

  test("list; delete removes the name (its blob stays for the collector); unknown names are 404", async () => {
    const store = await newStore();
    await store.put("x.txt", chunks("x"), 10);
    await store.put("y.txt", chunks("yy"), 10);
    expect((await store.list()).map((f) => f.name)).toEqual(["x.txt", "y.txt"]);
    await store.delete("x.txt");
    expect(existsSync(join(store.namesDir, "x.txt"))).toBe(false);
    expect(existsSync(store.blobPath(sha("x")))).toBe(true);
    expect((await store.list()).map((f) => f.name)).toEqual(["y.txt"]);
    await expect(store.delete("x.txt")).rejects.toMatchObject({ kind: "not_found" });
    await expect(store.open("nope")).rejects.toMatchObject({ kind: "not_found" });
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
    await store.put("one.txt", chunks("same bytes"), 100);
    await store.put("two.txt", chunks("same ", "bytes"), 100);
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
    await store.put("v.txt", chunks("version 1"), 100);
    const first = await store.resolve("v.txt");
    await store.put("v.txt", chunks("version 2"), 100);
    expect(readFileSync(first.path, "utf8")).toBe("version 1");
    expect((await store.resolve("v.txt")).sha256).toBe(sha("version 2"));
  });

  test("all or none: a name that cannot be committed undoes the names committed before it", async () => {
    const store = await newStore();
    await store.put("kept.txt", chunks("old kept"), 100);
    // A directory where the third pointer must go: its rename fails after the first two succeeded.
    mkdirSync(join(store.namesDir, "blocked.txt", "inside"), { recursive: true });
    const staged = [
      { name: "kept.txt", staged: await store.stage(chunks("new kept"), 100) },
      { name: "fresh.txt", staged: await store.stage(chunks("fresh"), 100) },
      { name: "blocked.txt", staged: await store.stage(chunks("blocked"), 100) },
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
    await store.put("a.txt", chunks("doomed"), 100);
    await store.put("b.txt", chunks("kept"), 100);
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
    await store.put("a.txt", chunks("reused"), 100);
    await store.delete("a.txt");
    await collectBlobs(store, 100);
    await Bun.sleep(150);
    const staged = await store.stage(chunks("reused"), 100);
    await store.adopt(staged); // the touch; the pointer would follow
    expect((await collectBlobs(store, 100)).removed).toEqual([]);
    await store.commit([{ name: "again.txt", staged: await store.stage(chunks("reused"), 100) }]);
    await Bun.sleep(150);
    expect((await collectBlobs(store, 100)).removed).toEqual([]);
    expect(await readAll((await store.open("again.txt")).stream())).toBe("reused");
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
    const staged = await store.stage(chunks("pdf bytes"), 100);
    await store.commit([{ name: "report.pdf", staged }]);
    // ...and a client had uploaded a newer notes.txt through the store since.
    await store.put("notes.txt", chunks("newer notes"), 100);
    await migrateLegacyLayout(legacyDir, store);
    expect(readFileSync(join(store.namesDir, "report.pdf"), "utf8")).toBe("pdf bytes");
    expect(readFileSync(join(store.namesDir, "notes.txt"), "utf8")).toBe("newer notes");
    expect(readFileSync(join(store.namesDir, "copy.pdf"), "utf8")).toBe("pdf bytes");
    expect(existsSync(legacyDir)).toBe(false);
  });
});
