// What one upload asks of the disk, seen from outside the runtime: strace attached to a real runtime
// process (harness/strace.ts) during one PUT. A new blob's bytes are fsynced before it is linked in,
// its directories before a name points at it, names/ before the answer; identical bytes again cost
// only the fsync of names/. And a failed directory fsync (strace's fault injection: no seam in the
// code) refuses the upload with 507 (full disk or quota) or 500, and the name is not stored.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { requireBinary } from "../../harness/binaries.ts";
import { type RuntimeProcess, startRuntime } from "../../harness/runtime-process.ts";
import { type TracedCall, traceSyscalls } from "../../harness/strace.ts";

const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
/** Every call that makes something durable. */
const SYNCS = ["fsync", "fdatasync", "syncfs", "sync_file_range", "sync"];
/** The calls that make a blob (a hard link) and point a name (a rename). */
const LINKS = ["link", "linkat", "rename", "renameat", "renameat2"];

let rt: RuntimeProcess;
let store: string;
beforeAll(async () => {
  rt = await startRuntime({ FUNCTIONS: "upload,download" });
  store = join(rt.dataDir, "store");
});
afterAll(async () => {
  await rt?.stop();
  if (rt) rmSync(rt.dataDir, { recursive: true, force: true });
});

/** `PUT /files/<name>` while strace watches (failing calls per `inject`); the answer's time is taken on arrival. */
async function tracedPut(name: string, body: Uint8Array<ArrayBuffer>, inject?: string) {
  const trace = await traceSyscalls(rt.proc.pid, [...SYNCS, ...LINKS], { inject });
  const answer = await fetch(`${rt.url}/files/${name}`, { method: "PUT", body })
    .then(async (res) => ({ status: res.status, answered: Date.now(), text: await res.text() }))
    .catch((err: Error) => err);
  const calls = await trace.stop(); // also when the request failed: the runtime is never left traced
  if (answer instanceof Error) throw answer;
  return { ...answer, calls };
}

/** Where a call's path is, in the store: `tmp/<staged>` for any staged file. */
const inStore = (path: string) => relative(store, path).replace(/^tmp\/.*/, "tmp/<staged>");
const syncs = (calls: TracedCall[]) =>
  calls.filter((c) => SYNCS.includes(c.syscall)).map((c) => `${c.syscall} ${c.fdPaths.map(inStore).join(" ")}`);
const syncOf = (calls: TracedCall[], path: string) =>
  calls.find((c) => SYNCS.includes(c.syscall) && c.fdPaths[0] === join(store, path));
/** The link or rename whose target is `path` (its last string argument). */
const linkTo = (calls: TracedCall[], path: string) =>
  calls.find((c) => LINKS.includes(c.syscall) && c.result === 0 && c.strings.at(-1) === join(store, path));

const names = () => readdirSync(join(store, "names")).sort();
const tmpLeft = () => readdirSync(join(store, "tmp"));

describe("the fsyncs of one upload (strace on a runtime process)", () => {
  test("strace present (else `bash scripts/setup --test`)", () => {
    expect(requireBinary("strace")).toEndWith("/strace");
  });

  const bytes = randomBytes(100 * 1024);
  const hash = sha(bytes);
  const prefix = `blobs/${hash.slice(0, 2)}`;

  test("new bytes: the staged file's data, then its link, the blob directories, the rename, names/, the answer", async () => {
    const { status, answered, calls } = await tracedPut("first.bin", bytes);
    expect(status).toBe(201);
    // Exactly these syncs, each once: the staged file's bytes (it becomes the blob by a hard link),
    // the blob's prefix directory and blobs/ (the prefix is new in this store), names/.
    expect(syncs(calls).map((s) => s.replace(/^\w+ /, "")).sort()).toEqual(
      ["blobs", prefix, "names", "tmp/<staged>"].sort(),
    );
    expect(syncs(calls).find((s) => s.endsWith("tmp/<staged>"))).toMatch(/^f(data)?sync /);

    const dataSync = calls.find((c) => SYNCS.includes(c.syscall) && c.fdPaths[0]?.startsWith(join(store, "tmp")))!;
    const link = linkTo(calls, `${prefix}/${hash}`)!;
    const rename = linkTo(calls, "names/first.bin")!;
    expect({ link: link?.syscall, rename: rename?.syscall }).toEqual({
      link: expect.stringMatching(/^link/),
      rename: expect.stringMatching(/^rename/),
    });
    expect(link.strings.at(-2)).toBe(dataSync.fdPaths[0]!); // the very file that was fsynced
    const order = (first: TracedCall, then: TracedCall) => ({ first: first.end <= then.start, then: then.syscall });
    // The blob's bytes are on disk before the blob exists.
    expect(order(dataSync, link)).toEqual({ first: true, then: link.syscall });
    // Its directories are on disk after the link and before a name points at it.
    for (const dir of [prefix, "blobs"]) {
      const sync = syncOf(calls, dir)!;
      expect({ dir, ...order(link, sync) }).toEqual({ dir, first: true, then: sync.syscall });
      expect({ dir, ...order(sync, rename) }).toEqual({ dir, first: true, then: rename.syscall });
    }
    // names/ after the rename, and before the answer (+1: Date.now() counts whole milliseconds).
    const namesSync = syncOf(calls, "names")!;
    expect(order(rename, namesSync)).toEqual({ first: true, then: namesSync.syscall });
    expect({ fsyncedBeforeAnswer: namesSync.end <= answered + 1 }).toEqual({ fsyncedBeforeAnswer: true });
    expect(names()).toEqual(["first.bin"]);
  });

  test("the same bytes under another name: no data or blob fsync, names/ before the answer", async () => {
    const { status, answered, calls } = await tracedPut("second.bin", bytes);
    expect(status).toBe(201);
    expect(syncs(calls).map((s) => s.replace(/^\w+ /, ""))).toEqual(["names"]);
    expect(linkTo(calls, `${prefix}/${hash}`)).toBeUndefined();
    expect(syncOf(calls, "names")!.end).toBeLessThanOrEqual(answered + 1);
  });
});

describe("a failed directory fsync refuses the upload (strace injects the failure)", () => {
  test("ENOSPC on the new blob's directories: 507, and the name is not stored", async () => {
    const before = names();
    const { status, calls, text } = await tracedPut("full.bin", randomBytes(10_000), "fsync:error=ENOSPC");
    expect({ status, body: JSON.parse(text) }).toEqual({
      status: 507,
      body: { error: "the disk is full: nothing was stored", status: 507 },
    });
    // The failure was the blob directories' fsync: the upload went no further.
    const injected = calls.filter((c) => c.injected).map((c) => c.fdPaths.map(inStore).join(" "));
    expect(injected.length).toBeGreaterThan(0);
    expect(injected.filter((dir) => !dir.startsWith("blobs"))).toEqual([]);
    expect(names()).toEqual(before);
    expect((await fetch(`${rt.url}/files/full.bin`)).status).toBe(404);
    expect(tmpLeft()).toEqual([]);
  });

  test("EIO on names/ after the rename: 500, and the new name is taken back", async () => {
    const stored = randomBytes(5_000);
    expect((await fetch(`${rt.url}/files/kept.bin`, { method: "PUT", body: stored })).status).toBe(201);
    const before = names();
    // Bytes already stored: the one fsync of this upload is the one of names/, made after the rename.
    const { status, calls, text } = await tracedPut("broken.bin", stored, "fsync:error=EIO");
    expect(calls.filter((c) => c.injected).map((c) => c.fdPaths.map(inStore).join(" "))).toEqual(["names"]);
    expect(linkTo(calls, "names/broken.bin")).toBeDefined(); // it was renamed in, then taken back
    expect({ status, body: JSON.parse(text) }).toEqual({
      status: 500,
      body: { error: "internal error", status: 500 },
    });
    expect(names()).toEqual(before);
    expect((await fetch(`${rt.url}/files/broken.bin`)).status).toBe(404);
    expect(tmpLeft()).toEqual([]);
  });

  test("EDQUOT on names/ when replacing a name: 507, and the name keeps its old version", async () => {
    const old = randomBytes(3_000);
    const other = randomBytes(4_000);
    expect((await fetch(`${rt.url}/files/replaced.bin`, { method: "PUT", body: old })).status).toBe(201);
    expect((await fetch(`${rt.url}/files/other.bin`, { method: "PUT", body: other })).status).toBe(201);
    const { status, calls, text } = await tracedPut("replaced.bin", other, "fsync:error=EDQUOT");
    expect(calls.filter((c) => c.injected).map((c) => c.fdPaths.map(inStore).join(" "))).toEqual(["names"]);
    expect({ status, body: JSON.parse(text) }).toEqual({
      status: 507,
      body: { error: "the storage quota is exhausted: nothing was stored", status: 507 },
    });
    const now = await fetch(`${rt.url}/files/replaced.bin`);
    expect({ status: now.status, sha256: sha(new Uint8Array(await now.arrayBuffer())) }).toEqual({
      status: 200,
      sha256: sha(old),
    });
    expect(tmpLeft()).toEqual([]);
  });
});
