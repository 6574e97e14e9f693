// A full disk, for real: DATA_DIR on a 20 MiB tmpfs. Every write route answers 507 with a JSON
// reason, leaves nothing behind, the replica stays ready, and freed space makes the next upload work.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type RuntimeProcess, startRuntime, tempDir } from "../../harness/runtime-process.ts";

const MiB = 1024 * 1024;
let mountPoint: string;
let rt: RuntimeProcess;

beforeAll(async () => {
  if (process.getuid?.() !== 0) {
    throw new Error("the disk-full test mounts a tmpfs: run it as root (CI does; `sudo bun test tests/files`)");
  }
  mountPoint = tempDir("tarsd-full-");
  const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", mountPoint]);
  if (mount.exitCode !== 0) throw new Error(`mount tmpfs failed: ${mount.stderr.toString()}`);
  rt = await startRuntime({ FUNCTIONS: "upload,download", DATA_DIR: mountPoint });
});
afterAll(async () => {
  await rt?.stop();
  Bun.spawnSync(["umount", mountPoint]);
});

const form = (name: string, bytes: Uint8Array<ArrayBuffer>) => {
  const body = new FormData();
  body.append("file", new File([bytes], name));
  return body;
};
const leftovers = () => readdirSync(join(mountPoint, "store", "tmp"));
const names = () => readdirSync(join(mountPoint, "store", "names")).sort();

describe("disk full", () => {
  test("a multipart upload that does not fit: 507, JSON reason, nothing stored or left behind", async () => {
    const first = await fetch(`${rt.url}/upload`, { method: "POST", body: form("first.bin", randomBytes(15 * MiB)) });
    expect(first.status).toBe(201);
    const res = await fetch(`${rt.url}/upload`, {
      method: "POST",
      body: form("second.bin", randomBytes(8 * MiB)),
    });
    expect(res.status).toBe(507);
    expect(await res.json()).toEqual({ status: 507, error: "the disk is full: nothing was stored" });
    expect(names()).toEqual(["first.bin"]);
    expect(leftovers()).toEqual([]);
    expect((await fetch(`${rt.url}/readyz`)).status).toBe(200);
  });

  test("PUT too: 507, the older version intact; freed space makes the same upload work", async () => {
    const filler = join(mountPoint, "filler");
    writeFileSync(filler, new Uint8Array(4 * MiB)); // with first.bin (15 MiB) less than 1 MiB is left
    const bytes = randomBytes(2 * MiB);
    const put = () => fetch(`${rt.url}/files/first.bin`, { method: "PUT", body: bytes });
    const full = await put();
    expect(full.status).toBe(507);
    expect((await full.json()).error).toContain("disk is full");
    expect(leftovers()).toEqual([]);
    expect(Number((await fetch(`${rt.url}/files/first.bin`, { method: "HEAD" })).headers.get("content-length")))
      .toBe(15 * MiB);
    rmSync(filler);
    const after = await put();
    expect(after.status).toBe(200);
    expect((await (await fetch(`${rt.url}/files/first.bin`)).arrayBuffer()).byteLength).toBe(2 * MiB);
  });
});
