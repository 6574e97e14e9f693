import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DomainError } from "../../lib/errors.ts";
import { FileStore } from "../../lib/files/file-store.ts";
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
    expect(readFileSync(join(store.dir, "a.txt"), "utf8")).toBe("hello world");
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
    expect(readFileSync(join(store.dir, "keep.bin"), "utf8")).toBe("old");
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });

  test("a body that fails midway leaves no file and no temp file", async () => {
    const store = await newStore();
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(1000);
      throw new Error("client went away");
    }
    await expect(store.put("half.bin", broken(), 1e6)).rejects.toThrow("client went away");
    expect(existsSync(join(store.dir, "half.bin"))).toBe(false);
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

  test("a file placed by hand (no sidecar) gets its hash computed", async () => {
    const store = await newStore();
    writeFileSync(join(store.dir, "manual.txt"), "by hand");
    expect((await store.list()).map((f) => [f.name, f.sha256])).toEqual([["manual.txt", sha("by hand")]]);
  });

  test("a sidecar from a lost same-name race is not trusted", async () => {
    const store = await newStore();
    const a = await store.stage(chunks("version A"), 100);
    const b = await store.stage(chunks("version B"), 100);
    await store.commit("race.txt", b);
    // Simulate the interleaving: A's sidecar written, then B's rename wins.
    writeFileSync(join(store.metaDir, "race.txt"), JSON.stringify({ sha256: a.sha256, size: a.size, ino: a.ino }));
    const opened = await store.open("race.txt");
    expect(opened.sha256).toBe(sha("version B"));
    await opened.close();
    await store.discard(a);
  });

  test("list skips hidden entries; delete removes file and sidecar; unknown names are 404", async () => {
    const store = await newStore();
    await store.put("x.txt", chunks("x"), 10);
    await store.put("y.txt", chunks("yy"), 10);
    expect((await store.list()).map((f) => f.name)).toEqual(["x.txt", "y.txt"]);
    await store.delete("x.txt");
    expect(existsSync(join(store.metaDir, "x.txt"))).toBe(false);
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
