// A full disk, for real: a 20 MiB tmpfs, and a 20 MiB ext4 on a loop device (a block device, as in
// production, where uploads are written with O_DIRECT: lib/files/staging-writer.ts; tmpfs takes
// O_DIRECT too since Linux 6.6, and goes through the page cache before). Every write route answers
// 507 with a JSON reason, leaves nothing behind, the replica stays ready, and freed space makes the
// next upload work.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { closeSync, constants, openSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type RuntimeProcess, startRuntime, tempDir } from "../../harness/runtime-process.ts";

const MiB = 1024 * 1024;

interface Filesystem {
  label: string;
  /** A block device: O_DIRECT must work there, so the case covers the direct path. */
  blockDevice: boolean;
  mount(at: string): string[][];
}

const FILESYSTEMS: Filesystem[] = [
  {
    label: "tmpfs",
    blockDevice: false,
    mount: (at) => [["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", at]],
  },
  {
    label: "ext4 on a loop device",
    blockDevice: true,
    mount: (at) => [
      ["truncate", "-s", "23M", `${at}.img`], // 19.7 MiB free after mkfs, like the tmpfs
      ["mkfs.ext4", "-q", "-m", "0", `${at}.img`],
      ["mount", "-o", "loop", `${at}.img`, at],
    ],
  },
];

function run(command: string[]): void {
  const done = Bun.spawnSync(command);
  if (done.exitCode !== 0) throw new Error(`${command.join(" ")} failed: ${done.stderr.toString()}`);
}

/** Whether `dir` takes O_DIRECT, asked of the kernel directly. */
function takesDirect(dir: string): boolean {
  try {
    closeSync(openSync(join(dir, "probe"), constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT));
    return true;
  } catch {
    return false;
  } finally {
    rmSync(join(dir, "probe"), { force: true });
  }
}

const form = (name: string, bytes: Uint8Array<ArrayBuffer>) => {
  const body = new FormData();
  body.append("file", new File([bytes], name));
  return body;
};

for (const fs of FILESYSTEMS) {
  let mountPoint: string;
  let rt: RuntimeProcess;
  const leftovers = () => readdirSync(join(mountPoint, "store", "tmp"));
  const names = () => readdirSync(join(mountPoint, "store", "names")).sort();

  describe(`disk full (${fs.label})`, () => {
    beforeAll(async () => {
      if (process.getuid?.() !== 0) {
        throw new Error("the disk-full test mounts filesystems: run it as root (CI does; `sudo bun test tests/files`)");
      }
      mountPoint = tempDir("tarsd-full-");
      for (const command of fs.mount(mountPoint)) run(command);
      if (fs.blockDevice) expect(takesDirect(mountPoint)).toBe(true);
      rt = await startRuntime({ FUNCTIONS: "upload,download", DATA_DIR: mountPoint });
    });
    afterAll(async () => {
      await rt?.stop();
      Bun.spawnSync(["umount", mountPoint]);
      rmSync(`${mountPoint}.img`, { force: true });
    });

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
}
