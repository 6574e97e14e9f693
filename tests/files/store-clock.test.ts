// The store's clock (lib/files/store-clock.ts) and the decisions that compare file times with it. The
// file server's clock is simulated by a clock given to the store, hours away from this process's
// Date.now() in either direction, and the files' times are set with utimes in that clock: whatever the
// local clock says, a fresh file is kept and a stale one removed. The last tests use the real store
// clock with this process's Date mocked hours off (setSystemTime: Date only, not the system's clock),
// as a replica whose clock disagrees with the file server's. No test waits for time to pass.
import { afterEach, describe, expect, setSystemTime, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DomainError } from "@tarsd/sdk";
import { collectBlobs, LOCK_STALE_MS } from "../../lib/files/blob-collector.ts";
import { FileStore } from "../../lib/files/file-store.ts";
import { ResumableUploads, STALE_LOCK_MS } from "../../lib/files/resumable-uploads.ts";
import type { Clock } from "../../lib/files/store-clock.ts";
import { STALE_TEMP_MS } from "../../lib/files/temp-cleanup.ts";
import { tempDir } from "../../harness/runtime-process.ts";

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
/** The file server's clock against this process's: behind by two hours, and ahead by two hours. */
const SKEWS = [-2 * HOUR, 2 * HOUR];

const sha = (data: string) => createHash("sha256").update(data).digest("hex");
const setTime = (path: string, ms: number) => utimesSync(path, new Date(ms), new Date(ms));

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield new TextEncoder().encode(part);
}

/** A file server's clock standing still at `now` (set it to move it), counting its readings. */
function serverClock(now: number): { now: number; readings: number; clock: Clock } {
  const server = {
    now,
    readings: 0,
    clock: () => {
      server.readings++;
      return Promise.resolve(server.now);
    },
  };
  return server;
}

async function newStore(clock?: Clock): Promise<FileStore> {
  const store = new FileStore(join(tempDir(), "store"), { clock });
  await store.init();
  return store;
}

/** A temp file of a replica on another host (never "a dead process of this host"). */
const otherHostTemp = (n: number) => `other-host-${n}-0b9d6f52-7c1e-4a44-9d7f-2f5a3c1b9e10`;

afterEach(() => setSystemTime()); // a test that failed midway leaves Date as it is

describe("the store's clock", () => {
  test("reads the time the directory gives a file: between a file written before and one written after", async () => {
    const store = await newStore();
    for (let i = 0; i < 20; i++) {
      const before = join(store.tmpDir, `before-${i}`);
      const after = join(store.tmpDir, `after-${i}`);
      writeFileSync(before, "x");
      const reading = await store.clock();
      writeFileSync(after, "x");
      expect(reading).toBeGreaterThanOrEqual(statSync(before).mtimeMs);
      expect(reading).toBeLessThanOrEqual(statSync(after).mtimeMs);
    }
    // The probe is gone after each reading.
    expect(readdirSync(store.tmpDir).filter((entry) => !/^(before|after)-/.test(entry))).toEqual([]);
  });

  test("is the directory's, not this process's Date: the same bounds with Date two hours off either way", async () => {
    const store = await newStore();
    for (const skew of SKEWS) {
      const before = join(store.tmpDir, "before");
      const after = join(store.tmpDir, "after");
      writeFileSync(before, "x");
      setSystemTime(new Date(Date.now() - skew));
      const reading = await store.clock();
      setSystemTime();
      writeFileSync(after, "x");
      expect(reading).toBeGreaterThanOrEqual(statSync(before).mtimeMs);
      expect(reading).toBeLessThanOrEqual(statSync(after).mtimeMs);
    }
  });
});

describe("decisions take file times against the store's clock only, hours away from Date.now()", () => {
  for (const skew of SKEWS) {
    const label = `the server's clock ${skew < 0 ? "behind" : "ahead of"} the local one by 2 h`;

    test(`cleanupTemps (${label}): a temp file fresh by the store's clock stays, a stale one goes`, async () => {
      const server = serverClock(Date.now() + skew);
      const store = await newStore(server.clock);
      const [fresh, stale] = [otherHostTemp(1), otherHostTemp(2)];
      for (const name of [fresh, stale]) writeFileSync(join(store.tmpDir, name), "partial");
      // Behind: the fresh one is over 2 h old by the local clock. Ahead: the stale one is in its future.
      setTime(join(store.tmpDir, fresh), server.now - STALE_TEMP_MS + MINUTE);
      setTime(join(store.tmpDir, stale), server.now - STALE_TEMP_MS - MINUTE);
      server.readings = 0;
      expect(await store.cleanupTemps()).toEqual([stale]);
      expect(readdirSync(store.tmpDir)).toEqual([fresh]);
      expect(server.readings).toBe(1); // one reading for the pass, not one per file
    });

    test(`blob collector (${label}): marks are in the store's time, a blob goes a full grace after it, not while touched`, async () => {
      const server = serverClock(Date.now() + skew);
      const store = await newStore(server.clock);
      const marked = server.now;
      await store.put("doomed.txt", chunks("doomed"));
      await store.put("wanted.txt", chunks("wanted"));
      await store.put("kept.txt", chunks("kept"));
      for (const name of ["doomed", "wanted", "kept"]) setTime(store.blobPath(sha(name)), marked - 5 * MINUTE);
      await store.delete("doomed.txt");
      await store.delete("wanted.txt");
      const marks = () => JSON.parse(readFileSync(join(store.gcDir, "marks.json"), "utf8"));

      expect(await collectBlobs(store, HOUR)).toMatchObject({ removed: [], marked: 2 });
      expect(marks()).toEqual({ [sha("doomed")]: marked, [sha("wanted")]: marked });

      setTime(store.blobPath(sha("wanted")), marked + 30 * MINUTE); // a writer's touch, stamped by the server
      server.now = marked + HOUR - MINUTE;
      expect(await collectBlobs(store, HOUR)).toMatchObject({ removed: [], marked: 2 });
      expect(marks()).toEqual({ [sha("doomed")]: marked, [sha("wanted")]: marked });

      server.now = marked + HOUR + MINUTE;
      server.readings = 0;
      expect((await collectBlobs(store, HOUR)).removed).toEqual([sha("doomed")]);
      expect(server.readings).toBe(1);
      expect(existsSync(store.blobPath(sha("doomed")))).toBe(false);
      expect(existsSync(store.blobPath(sha("wanted")))).toBe(true);
      expect(existsSync(store.blobPath(sha("kept")))).toBe(true);
      // Touched since its mark: unmarked, and marked again from the store's time at the next pass.
      server.now += MINUTE;
      expect(await collectBlobs(store, HOUR)).toMatchObject({ removed: [], marked: 1 });
      expect(marks()).toEqual({ [sha("wanted")]: server.now });
    });

    test(`blob collector (${label}): a mark ahead of the store's time counts from the store's now`, async () => {
      const server = serverClock(Date.now() + skew);
      const store = await newStore(server.clock);
      await store.put("old.txt", chunks("old"));
      setTime(store.blobPath(sha("old")), server.now - 3 * HOUR);
      await store.delete("old.txt");
      // As a replica whose own clock ran 3 h ahead wrote it, before marks were in the store's time.
      writeFileSync(join(store.gcDir, "marks.json"), JSON.stringify({ [sha("old")]: server.now + 3 * HOUR }));
      expect(await collectBlobs(store, HOUR)).toMatchObject({ removed: [], marked: 1 });
      expect(JSON.parse(readFileSync(join(store.gcDir, "marks.json"), "utf8"))).toEqual({ [sha("old")]: server.now });
      server.now += HOUR;
      expect((await collectBlobs(store, HOUR)).removed).toEqual([sha("old")]);
    });

    test(`blob collector (${label}): gc/lock is taken over only once stale by the store's clock`, async () => {
      const server = serverClock(Date.now() + skew);
      const store = await newStore(); // the clock given to the pass, not the store's
      const lock = join(store.gcDir, "lock");
      mkdirSync(lock);
      // Behind: the live lock is hours old by the local clock. Ahead: the dead one is in its future.
      setTime(lock, server.now - LOCK_STALE_MS + MINUTE);
      expect((await collectBlobs(store, HOUR, { clock: server.clock })).skipped).toBe(true);
      expect(existsSync(lock)).toBe(true);
      setTime(lock, server.now - LOCK_STALE_MS - MINUTE);
      expect((await collectBlobs(store, HOUR, { clock: server.clock })).skipped).toBe(false);
      expect(existsSync(lock)).toBe(false);
    });

    test(`resumable uploads (${label}): an upload expires by the store's clock, in requests and in the pass`, async () => {
      const server = serverClock(Date.now() + skew);
      const store = await newStore(); // the clock given to the uploads, not the store's
      const uploads = new ResumableUploads(store, { expiryMs: HOUR, clock: server.clock });
      const idle = await uploads.create(100, "idle.bin");
      const other = await uploads.create(100, "other.bin");
      const files = (id: string) => readdirSync(store.uploadsDir).filter((entry) => entry.startsWith(id));
      const lastTouched = (id: string, ms: number) => {
        for (const entry of files(id)) setTime(join(store.uploadsDir, entry), ms);
      };
      // Behind: untouched for hours by the local clock, yet live. Ahead: touched in its future, yet gone.
      lastTouched(idle.id, server.now - HOUR + MINUTE);
      lastTouched(other.id, server.now - HOUR + MINUTE);
      server.readings = 0;
      expect(await uploads.status(idle.id)).toMatchObject({ offset: 0, complete: false });
      expect(server.readings).toBe(1);
      expect(await uploads.expire()).toEqual([]);
      expect(server.readings).toBe(2); // one for the pass, whatever the number of uploads
      expect(files(idle.id).length).toBe(2);

      lastTouched(idle.id, server.now - HOUR - MINUTE);
      lastTouched(other.id, server.now - HOUR - MINUTE);
      const expired = await uploads.status(idle.id).catch((err) => err);
      expect(expired).toBeInstanceOf(DomainError);
      expect(expired).toMatchObject({ kind: "not_found" });
      expect((await uploads.expire()).sort()).toEqual([idle.id, other.id].sort());
      expect(files(idle.id)).toEqual([]);
      expect(files(other.id)).toEqual([]);
    });

    test(`resumable uploads (${label}): a lock is taken over only once stale by the store's clock`, async () => {
      const server = serverClock(Date.now() + skew);
      const store = await newStore(server.clock); // the uploads use the store's clock
      const uploads = new ResumableUploads(store, { expiryMs: HOUR });
      const { id } = await uploads.create(10, "locked.bin");
      const data = join(store.uploadsDir, id);
      const lock = `${data}.lock`;
      writeFileSync(lock, JSON.stringify({ host: "other-host", pid: 1, nonce: "held" }));
      for (const path of [data, `${data}.json`]) setTime(path, server.now - 10 * MINUTE);
      // Behind: the live lock is hours old by the local clock. Ahead: the dead one is in its future.
      setTime(lock, server.now - STALE_LOCK_MS + MINUTE);
      server.readings = 0;
      expect(await uploads.append(id, 0, chunks("01234")).catch((err) => err)).toMatchObject({ kind: "busy" });
      expect(server.readings).toBe(1); // one for the request
      expect(readFileSync(lock, "utf8")).toContain("held");
      setTime(lock, server.now - STALE_LOCK_MS - MINUTE);
      expect(await uploads.append(id, 0, chunks("01234"))).toMatchObject({ offset: 5, complete: false });
      expect(existsSync(lock)).toBe(false);
    });
  }
});

describe("a replica whose own clock is off (this process's Date mocked; the store's clock read from the disk)", () => {
  for (const skew of SKEWS) {
    const label = `Date ${skew < 0 ? "ahead" : "behind"} by 2 h`;

    test(`cleanupTemps (${label}): a temp file written just now stays, one 11 minutes old by the disk goes`, async () => {
      const store = await newStore();
      const [fresh, stale] = [otherHostTemp(1), otherHostTemp(2)];
      for (const name of [fresh, stale]) writeFileSync(join(store.tmpDir, name), "partial");
      setTime(join(store.tmpDir, stale), statSync(join(store.tmpDir, fresh)).mtimeMs - STALE_TEMP_MS - MINUTE);
      setSystemTime(new Date(Date.now() - skew));
      expect(await store.cleanupTemps()).toEqual([stale]);
      setSystemTime();
      expect(readdirSync(store.tmpDir)).toEqual([fresh]);
    });

    test(`a writer's touch and a new blob carry the disk's time (${label})`, async () => {
      const store = await newStore();
      await store.put("first.txt", chunks("same bytes"));
      const blob = store.blobPath(sha("same bytes"));
      setTime(blob, statSync(blob).mtimeMs - 3 * HOUR);
      // A staged file whose bytes are old (as a tus upload's or the older layout's), given without a handle.
      const oldBytes = store.tempPath();
      writeFileSync(oldBytes, "old bytes");
      setTime(oldBytes, statSync(oldBytes).mtimeMs - 3 * HOUR);

      const before = join(store.dir, "before");
      const after = join(store.dir, "after");
      writeFileSync(before, "x");
      setSystemTime(new Date(Date.now() - skew));
      await store.put("second.txt", chunks("same bytes")); // touches the existing blob
      await store.put("third.txt", chunks("new bytes")); // a new blob from a staged file just written
      const staged = { tmp: oldBytes, sha256: sha("old bytes"), size: 9 };
      await store.adopt(staged);
      await store.settle(staged);
      setSystemTime();
      writeFileSync(after, "x");
      for (const bytes of ["same bytes", "new bytes", "old bytes"]) {
        const { mtimeMs } = statSync(store.blobPath(sha(bytes)));
        expect({ bytes, touched: mtimeMs >= statSync(before).mtimeMs && mtimeMs <= statSync(after).mtimeMs })
          .toEqual({ bytes, touched: true });
      }
      expect(readFileSync(blob, "utf8")).toBe("same bytes"); // touching leaves the bytes as they are
    });

    test(`blob collector (${label}): a mark made by a replica with the right clock keeps its grace`, async () => {
      const store = await newStore();
      await store.put("a.txt", chunks("unreferenced"));
      await store.delete("a.txt");
      expect(await collectBlobs(store, HOUR)).toMatchObject({ removed: [], marked: 1 });
      setSystemTime(new Date(Date.now() - skew));
      expect(await collectBlobs(store, HOUR)).toMatchObject({ removed: [], marked: 1 });
      setSystemTime();
      expect(existsSync(store.blobPath(sha("unreferenced")))).toBe(true);
    });
  }
});
