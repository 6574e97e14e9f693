// The spool (lib/remote-write/spool/, sinks/spooled.ts) over a sink the test takes down and brings
// back: what it acknowledges while the sink is away is replayed in order once it returns, each
// acknowledged write exactly as it was; its bound answers as a retryable failure; records cut short
// are never replayed; one replayer per directory.
import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newRegistry } from "../../harness/in-process.ts";
import { seriesValue } from "../../harness/metric-series.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import { type Sink, SinkError } from "../../lib/remote-write/sinks/sink.ts";
import { SPOOL_TIMING, spooledSink } from "../../lib/remote-write/sinks/spooled.ts";
import { crc32 } from "../../lib/remote-write/spool/crc32.ts";
import { loadFileLocks } from "../../lib/remote-write/spool/file-lock.ts";
import { recordHeader, records } from "../../lib/remote-write/spool/records.ts";
import { listSegments, spoolUsage } from "../../lib/remote-write/spool/segments.ts";
import { SpoolWriter } from "../../lib/remote-write/spool/spool-writer.ts";

const FAST = { ...SPOOL_TIMING, probeMs: 50, sealAfterMs: 50, pollMs: 20, maxBackoffMs: 100 };

/** A sink that holds what it took, in order, and fails while `down`. */
function testSink() {
  const taken: string[] = [];
  const sink = {
    down: false,
    rejectNext: 0,
    taken,
    describe: "test sink",
    write(body: Uint8Array): Promise<void> {
      if (sink.down) return Promise.reject(new SinkError("network", "test sink down"));
      if (sink.rejectNext > 0) {
        sink.rejectNext--;
        return Promise.reject(new SinkError("rejected", "test sink refuses this"));
      }
      taken.push(...new TextDecoder().decode(body).split("\n").filter(Boolean));
      return Promise.resolve();
    },
  };
  return sink;
}

const started: Sink[] = [];
afterEach(async () => {
  for (const sink of started.splice(0)) await sink.stop?.();
});

async function spooled(inner: Sink, dir = tempDir("tarsd-spool-"), maxBytes = 1 << 30) {
  const registry = newRegistry();
  const errors: string[] = [];
  const sink = spooledSink(inner, { dir, maxBytes, registry, onSinkError: (e) => errors.push(e.kind) }, FAST);
  await sink.start!();
  started.push(sink);
  return { sink, dir, registry, errors, metric: (name: string) => seriesValue(registry, name) };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await Bun.sleep(10);
  }
}

const line = (i: number) => `m,series=s${i % 7} value=${i} ${1_700_000_000_000 + i}`;
const body = (from: number, count: number) =>
  new TextEncoder().encode(Array.from({ length: count }, (_, k) => `${line(from + k)}\n`).join(""));

describe("records", () => {
  test("CRC-32 is zlib's", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });

  test("a record cut short, or whose checksum fails, ends the segment", () => {
    const a = new TextEncoder().encode("first\n");
    const b = new TextEncoder().encode("second\n");
    const whole = Buffer.concat([recordHeader(a), a, recordHeader(b), b]);
    expect([...records(whole)].map((r) => Buffer.from(r).toString())).toEqual(["first\n", "second\n"]);
    for (let cut = 0; cut < b.length + 8; cut++) {
      expect([...records(whole.subarray(0, whole.length - 1 - cut))].length).toBe(1);
    }
    const flipped = Buffer.from(whole);
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 2) ^ 1, flipped.length - 2);
    expect([...records(flipped)].map((r) => Buffer.from(r).toString())).toEqual(["first\n"]);
  });
});

describe("the spooled sink", () => {
  test("the sink up: writes go straight through, nothing is spooled", async () => {
    const inner = testSink();
    const { sink, dir, metric } = await spooled(inner);
    await sink.write(body(0, 3));
    expect(inner.taken).toEqual([line(0), line(1), line(2)]);
    expect(await listSegments(dir)).toEqual([]);
    expect(await metric("tarsd_remote_write_spooled_requests_total")).toBe(0);
  });

  test("the sink down: writes are acknowledged from the spool and replayed in order once it is back", async () => {
    const inner = testSink();
    const { sink, dir, errors, metric } = await spooled(inner);
    inner.down = true;
    for (let i = 0; i < 50; i++) await sink.write(body(i * 10, 10));
    expect(inner.taken).toEqual([]);
    expect(await metric("tarsd_remote_write_spooling")).toBe(1);
    expect(await metric("tarsd_remote_write_spooled_requests_total")).toBeGreaterThanOrEqual(49);
    expect(await metric("tarsd_remote_write_spool_bytes")).toBeGreaterThan(0);
    expect(await metric("tarsd_remote_write_spool_oldest_age_seconds")).toBeGreaterThan(0);
    expect(await metric("tarsd_remote_write_spool_max_bytes")).toBe(1 << 30);
    expect(errors).toContain("network");

    inner.down = false;
    await Bun.sleep(FAST.probeMs);
    await sink.write(body(500, 10)); // a live write after the probe interval is tried on the sink
    await until("the spool is replayed", async () => (await listSegments(dir)).length === 0);
    const want = Array.from({ length: 510 }, (_, i) => line(i));
    expect([...inner.taken].sort()).toEqual([...want].sort()); // every line, once
    // The spool in the order it was written (the live write may land before or among it).
    expect(inner.taken.filter((l) => !want.slice(500).includes(l))).toEqual(want.slice(0, 500));
    expect(await metric("tarsd_remote_write_spooling")).toBe(0);
    expect(await metric("tarsd_remote_write_spool_bytes")).toBe(0);
    expect(await metric("tarsd_remote_write_spool_oldest_age_seconds")).toBe(0);
    expect(await metric("tarsd_remote_write_spool_replayed_bytes_total")).toBe(body(0, 500).length);
  });

  test("bad data is never spooled: the sink's refusal reaches the sender", async () => {
    const inner = testSink();
    const { sink, dir } = await spooled(inner);
    inner.rejectNext = 1;
    await expect(sink.write(body(0, 1))).rejects.toMatchObject({ kind: "rejected" });
    expect(await listSegments(dir)).toEqual([]);
  });

  test("past its bound the spool refuses, retryably, naming the bound; what it took is still replayed", async () => {
    const inner = testSink();
    const { sink, dir } = await spooled(inner, undefined, 4096);
    inner.down = true;
    let accepted = 0;
    let refusal: unknown;
    for (let i = 0; i < 100 && !refusal; i++) {
      await sink.write(body(i * 10, 10)).then(() => accepted++, (err) => (refusal = err));
      await Bun.sleep(1); // the bound is checked against the directory at most every second; 100 writes span it
    }
    expect(refusal).toBeInstanceOf(SinkError);
    expect(refusal).toMatchObject({ kind: "spool_full", retryable: true });
    expect((refusal as SinkError).reason).toContain("spool full");
    inner.down = false;
    await until("the spool is replayed", async () => (await listSegments(dir)).length === 0);
    expect(inner.taken.length).toBe(accepted * 10);
  });

  test("a segment whose writer died is replayed up to its torn tail; one replayer per directory", async () => {
    await loadFileLocks();
    const dir = tempDir("tarsd-spool-");
    // What a writer killed mid-append leaves: two whole records and a third cut short, its lock gone with it.
    const a = body(0, 2);
    const b = body(2, 2);
    const c = body(4, 2);
    const path = join(dir, `${String(Date.now() - 5000).padStart(15, "0")}-dead0001.seg`);
    writeFileSync(path, Buffer.concat([recordHeader(a), a, recordHeader(b), b]));
    appendFileSync(path, Buffer.concat([recordHeader(c), c]).subarray(0, 12));

    const first = testSink();
    const second = testSink();
    const one = await spooled(first, dir);
    const two = await spooled(second, dir);
    await until("replayed", async () => (await listSegments(dir)).length === 0);
    expect([...first.taken, ...second.taken]).toEqual([line(0), line(1), line(2), line(3)]);
    const replayers = [
      await one.metric("tarsd_remote_write_spool_replayer"),
      await two.metric("tarsd_remote_write_spool_replayer"),
    ];
    expect(replayers.sort()).toEqual([0, 1]);
    expect(readdirSync(dir).sort()).toEqual(["replay.lock"]);
  });
});

test("the spool's size never goes back while writers append and seal (nothing replays): a listing misses no segment", async () => {
  await loadFileLocks();
  const dir = tempDir("tarsd-spool-");
  // Sealed after every append: a new segment each time, as under a steady trickle of writes.
  const writer = new SpoolWriter(dir, { maxBytes: 1 << 30, segmentBytes: 1, sealAfterMs: 1 });
  let appending = true;
  const appends = (async () => {
    for (let i = 0; i < 300; i++) await writer.append(body(i, 1));
    appending = false;
  })();
  const seen: number[] = [];
  while (appending) seen.push((await spoolUsage(dir)).bytes);
  await appends;
  const backwards = seen.filter((bytes, i) => i > 0 && bytes < seen[i - 1]!);
  expect({ reads: seen.length > 50, backwards }).toEqual({ reads: true, backwards: [] });
  expect((await spoolUsage(dir)).segments).toBe(300);
});
