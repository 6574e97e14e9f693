// The download answer (runtime/http/serve-file.ts), in process: a whole-file answer's headers are
// made once per version and reused, so what one answer's headers get later must not reach the next,
// and a new version of a name must never get the old version's headers.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResolvedFile } from "../../lib/files/file-store.ts";
import { fileResponse } from "../../lib/files/serve-file.ts";

const dir = mkdtempSync(join(tmpdir(), "serve-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function version(name: string, content: string, modified: Date): ResolvedFile {
  const sha256 = createHash("sha256").update(content).digest("hex");
  const path = join(dir, sha256);
  writeFileSync(path, content);
  return { name, sha256, size: Buffer.byteLength(content), path, modified };
}

const get = (headers: Record<string, string> = {}, method = "GET") =>
  new Request("http://x/files/report.txt", { method, headers });

describe("fileResponse", () => {
  test("answers of one version share nothing a caller can change", async () => {
    const file = version("report.txt", "first version", new Date("2026-01-02T03:04:05Z"));
    const first = await fileResponse(get(), file, new Blob(["first version"]));
    first.headers.set("connection", "close"); // what the runtime does while draining
    first.headers.delete("etag");
    const second = await fileResponse(get(), file, new Blob(["first version"]));
    expect(second.headers.get("connection")).toBeNull();
    expect(second.headers.get("etag")).toBe(`"${file.sha256}"`);
    expect(second.headers.get("content-length")).toBe("13");
    expect(second.headers.get("last-modified")).toBe("Fri, 02 Jan 2026 03:04:05 GMT");
    expect(await second.text()).toBe("first version");
  });

  test("a new version of the name, or the same bytes at a new time, gets its own headers", async () => {
    const old = version("report.txt", "first version", new Date("2026-01-02T03:04:05Z"));
    await fileResponse(get(), old);
    const replaced = version("report.txt", "the second, longer version", new Date("2026-01-03T00:00:00Z"));
    const answer = await fileResponse(get(), replaced);
    expect(answer.headers.get("etag")).toBe(`"${replaced.sha256}"`);
    expect(answer.headers.get("content-length")).toBe(String(replaced.size));
    expect(answer.headers.get("last-modified")).toBe("Sat, 03 Jan 2026 00:00:00 GMT");
    expect(await answer.text()).toBe("the second, longer version");

    const again = { ...old, modified: new Date("2026-02-01T00:00:00Z") }; // the same bytes uploaded again
    expect((await fileResponse(get(), again)).headers.get("last-modified")).toBe("Sun, 01 Feb 2026 00:00:00 GMT");
    const other = { ...old, name: "copy.txt" }; // the same blob under another name
    expect((await fileResponse(get(), other)).headers.get("content-disposition")).toContain('filename="copy.txt"');
  });

  test("HEAD, a range of bytes in memory, and a matching If-None-Match", async () => {
    const file = version("report.txt", "0123456789", new Date("2026-01-02T03:04:05Z"));
    const bytes = new Blob(["0123456789"]);
    const head = await fileResponse(get({}, "HEAD"), file);
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("10");
    expect(await head.text()).toBe("");
    const range = await fileResponse(get({ range: "bytes=2-5" }), file, bytes);
    expect(range.status).toBe(206);
    expect(range.headers.get("content-range")).toBe("bytes 2-5/10");
    expect(await range.text()).toBe("2345");
    const fromDisk = await fileResponse(get({ range: "bytes=-3" }), file);
    expect(await fromDisk.text()).toBe("789");
    const cached = await fileResponse(get({ "if-none-match": `"${file.sha256}"` }), file, bytes);
    expect(cached.status).toBe(304);
    expect(cached.headers.get("etag")).toBe(`"${file.sha256}"`);
  });
});
