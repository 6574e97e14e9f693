// The blob collector racing three replicas that share one directory: writers keep pointing names at
// blobs the collector is trying to remove (the same few contents, so a blob is unreferenced one
// moment and wanted again the next), readers keep downloading, and a collector pass runs back to back
// from this (fourth) process. No name may ever point at a missing blob, no reader may get a broken
// or mixed body, and the collector must really have removed blobs meanwhile.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { collectBlobs } from "../../lib/files/blob-collector.ts";
import { FileStore } from "../../lib/files/file-store.ts";
import { type RuntimeProcess, startRuntime, tempDir } from "../../harness/runtime-process.ts";

const sha = (data: Uint8Array | ArrayBuffer) => createHash("sha256").update(new Uint8Array(data)).digest("hex");
// More contents than names: each blob is unreferenced now and then, and wanted again soon after.
const CONTENTS = Array.from({ length: 24 }, (_, i) => randomBytes(64 * 1024 + i));

let dataDir: string;
let replicas: RuntimeProcess[] = [];
let store: FileStore;

beforeAll(async () => {
  dataDir = tempDir("tarsd-gc-race-");
  replicas = await Promise.all([0, 1, 2].map(() => startRuntime({ FUNCTIONS: "upload,download", DATA_DIR: dataDir })));
  store = new FileStore(join(dataDir, "store"));
});
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
});

/** Set when a writer or reader failed: the test's collector loop stops with it, not in the next test. */
let failed = false;
let passesStarted = 0;
let passesDone = 0;
async function stopOnFailure(work: Promise<void>): Promise<void> {
  try {
    await work;
  } catch (err) {
    failed = true;
    throw err;
  }
}

/** Runs `collectBlobs` back to back while `running()`; returns what it removed and restored. */
async function collectorLoop(graceMs: number, running: () => boolean) {
  let removed = 0;
  let restored = 0;
  let passes = 0;
  while (running() && !failed) {
    passesStarted++;
    const pass = await collectBlobs(store, graceMs);
    passesDone++;
    removed += pass.removed.length;
    restored += pass.restored.length;
    passes++;
    await Bun.sleep(1);
  }
  return { removed, restored, passes };
}

/** Every name points at a blob that exists and holds the bytes its hash names. */
function checkPointers(): number {
  let checked = 0;
  for (const name of readdirSync(store.namesDir)) {
    const target = readlinkSync(join(store.namesDir, name));
    const hash = target.slice(target.lastIndexOf("/") + 1);
    expect({ name, exists: existsSync(store.blobPath(hash)) }).toEqual({ name, exists: true });
    checked++;
  }
  return checked;
}

describe("the blob collector against three replicas", () => {
  test("writers re-using contents while a pass runs back to back: no name ever loses its blob", async () => {
    const deadline = Date.now() + 8000;
    const running = () => Date.now() < deadline;
    const last = new Map<string, string>(); // name -> sha of its last acknowledged version
    let writes = 0;
    let deletes = 0;
    const writer = async (replica: number) => {
      for (let i = 0; running(); i++) {
        const name = `r${replica}-${i % 4}.bin`;
        if (i % 7 === 6) {
          // Only this writer writes its names: one is there exactly when its last answer said so.
          const res = await fetch(`${replicas[replica]!.url}/files/${name}`, { method: "DELETE" });
          expect({ name, status: res.status }).toEqual({ name, status: last.has(name) ? 204 : 404 });
          last.delete(name);
          deletes++;
          continue;
        }
        // Each writer has contents of its own (so no other writer can put a lost blob back), fewer
        // than the names it cycles through writes: its blobs go unreferenced and are wanted again.
        const body = CONTENTS[replica * 8 + ((i * 5) % 8)]!;
        const hash = sha(body);
        const res = await fetch(`${replicas[replica]!.url}/files/${name}`, { method: "PUT", body });
        expect([200, 201]).toContain(res.status);
        last.set(name, hash);
        writes++;
        // Once a pass has run from start to end after the answer (any blob it held out for a moment
        // is back or gone by then), the name must still point at its blob, and the blob be there.
        const after = passesStarted + 1;
        while (passesDone <= after && running() && !failed) await Bun.sleep(1);
        expect({ name, target: readlinkSync(join(store.namesDir, name)).endsWith(hash) }).toEqual({
          name,
          target: true,
        });
        expect({ name, blob: existsSync(store.blobPath(hash)) }).toEqual({ name, blob: true });
      }
    };
    const [gc] = await Promise.all([collectorLoop(0, running), ...[0, 1, 2].map((r) => stopOnFailure(writer(r)))]);
    expect(checkPointers()).toBe(last.size);
    for (const [name, hash] of last) {
      const res = await fetch(`${replicas[writes % 3]!.url}/files/${name}`);
      expect({ name, hash: sha(await res.arrayBuffer()) }).toEqual({ name, hash });
    }
    console.log(
      `gc race: ${writes} writes, ${deletes} deletes, ${gc.passes} passes, ${gc.removed} blobs removed, ${gc.restored} restored`,
    );
    expect(writes).toBeGreaterThan(100);
    expect(gc.removed).toBeGreaterThan(10); // the collector really collected while the writers wrote
  }, 30_000);

  test("readers through every replica meanwhile get whole versions, never a 5xx or a mixed body", async () => {
    const deadline = Date.now() + 8000;
    const running = () => Date.now() < deadline;
    let reads = 0;
    let found = 0;
    /** The names some write of which was acknowledged (2xx): from then on a name is never absent. */
    const acknowledged = new Set<string>();
    const writer = async (replica: number) => {
      for (let i = 0; running(); i++) {
        // A new version every time (small ones served from memory, bigger ones as files): each
        // replaced version is unreferenced for good and goes a grace later.
        const body = randomBytes(i % 2 ? 100 * 1024 : 4 * 1024);
        const name = `shared-${i % 2}.bin`;
        const res = await fetch(`${replicas[replica]!.url}/files/${name}`, { method: "PUT", body });
        expect([200, 201]).toContain(res.status);
        acknowledged.add(name);
      }
    };
    const reader = async (replica: number) => {
      for (let i = 0; running(); i++) {
        const name = `shared-${i % 2}.bin`;
        // Taken before the request is sent: a write acknowledged only while it is under way may
        // still be unseen by it. A 404 is expected only before the name's first acknowledged write.
        const writtenBefore = acknowledged.has(name);
        const res = await fetch(`${replicas[replica]!.url}/files/${name}`);
        reads++;
        if (res.status === 404 && !writtenBefore) {
          await res.body?.cancel();
          continue; // not written yet
        }
        expect({ name, writtenBefore, status: res.status }).toEqual({ name, writtenBefore, status: 200 });
        const got = sha(await res.arrayBuffer());
        expect(res.headers.get("etag")).toBe(`"${got}"`); // the whole version its headers describe
        found++;
      }
    };
    // A short grace: the collector removes a replaced version a second after no name points at it
    // (readers open what they resolved within milliseconds; a second leaves room for a loaded CI).
    const [gc] = await Promise.all([
      collectorLoop(1000, running),
      ...[writer(0), writer(1), reader(0), reader(1), reader(2)].map(stopOnFailure),
    ]);
    console.log(`gc race with readers: ${reads} reads (${found} bodies), ${gc.removed} blobs removed`);
    expect(found).toBeGreaterThan(100);
    expect(gc.removed).toBeGreaterThan(0);
    checkPointers();
  }, 30_000);
});
