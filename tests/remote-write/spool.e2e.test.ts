// The spool against a real InfluxDB (harness/influxdb.ts), through real runtime processes running the
// remote-write function, with a proxy in front of InfluxDB that the test turns off, on, or lets one
// write through and then holds the rest (a replay caught in the middle). What must hold: a 204 is
// never lost, whatever is killed; the bound and a full disk answer 503 with the reason; one replayer
// per spool directory, and another replica takes over from a replayer killed mid-segment.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { type InfluxDb, startInfluxDb } from "../../harness/influxdb.ts";
import { scrapeValue } from "../../harness/pipeline.ts";
import { type RuntimeProcess, startRuntime, tempDir } from "../../harness/runtime-process.ts";
import { type TestSeries, writeRequest } from "../../harness/remote-write-requests.ts";

type ProxyMode = "down" | "up" | "one-then-hold";

let influx: InfluxDb;
let proxy: ReturnType<typeof Bun.serve>;
let mode: ProxyMode = "down";
let forwarded = 0;
let held = 0;
const runtimes: RuntimeProcess[] = [];

beforeAll(async () => {
  influx = await startInfluxDb({ databases: ["bound", "disk", "replay"] });
  proxy = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      const isWrite = url.pathname === "/api/v2/write";
      if (isWrite && mode === "down") return new Response("test proxy: InfluxDB is away", { status: 503 });
      if (isWrite && mode === "one-then-hold" && forwarded >= 1) {
        held++;
        return new Promise<Response>(() => {}); // held until the caller gives up or dies
      }
      const res = await fetch(`${influx.url}${url.pathname}${url.search}`, {
        method: req.method,
        headers: req.headers,
        body: req.method === "GET" ? undefined : await req.arrayBuffer(),
      });
      if (isWrite && res.ok) forwarded++;
      return res;
    },
  });
}, 60_000);

afterAll(async () => {
  for (const rt of runtimes) await rt.stop("SIGKILL").catch(() => undefined);
  proxy?.stop(true);
  await influx?.stop();
}, 30_000);

async function app(database: string, env: Record<string, string> = {}, prefix?: string[]): Promise<RuntimeProcess> {
  const rt = await startRuntime({
    FUNCTIONS: "remote-write",
    INFLUX_URL: `http://127.0.0.1:${proxy.port}`,
    INFLUX_ORG: "tarsd",
    INFLUX_BUCKET: database,
    INFLUX_TIMEOUT_MS: "3000",
    ...env,
  }, { prefix });
  runtimes.push(rt);
  return rt;
}

/** `series` series of `samples` samples each, every one at a timestamp no other request uses. */
function batch(request: number, series: number, samples: number): TestSeries[] {
  return Array.from({ length: series }, (_, s) => ({
    labels: [["__name__", "spool_test"], ["series", `s${s}`]] as [string, string][],
    samples: Array.from({ length: samples }, (_, i) => ({
      value: request * 1e6 + i,
      timestamp: 1_700_000_000_000 + request * 1000 + i, // samples < 1000
    })),
  }));
}

async function send(rt: RuntimeProcess, series: TestSeries[]) {
  const res = await fetch(writeRequest(`${rt.url}/api/v1/write`, series));
  return { status: res.status, body: await res.text() };
}

/**
 * Points of spool_test InfluxDB holds in `database`. Every sample sent has its own series and timestamp,
 * and InfluxDB keeps one point per series and timestamp (a point written twice overwrites itself): so
 * "none lost, none twice" is this count equal to the samples acknowledged (and their sum, the values).
 */
async function stored(database: string): Promise<number> {
  const rows = await influx.influxql(database, "SELECT count(value), sum(value) FROM spool_test");
  storedSum = Number(rows[0]?.values[0]?.[2] ?? 0);
  return Number(rows[0]?.values[0]?.[1] ?? 0);
}
let storedSum = 0;

/** The sum of the values `batch` gives requests `from`..`to`-1 of `samples` samples over `series` series. */
const sumOf = (from: number, to: number, series: number, samples: number) => {
  let sum = 0;
  for (let r = from; r < to; r++) sum += series * (samples * r * 1e6 + (samples * (samples - 1)) / 2);
  return sum;
};

async function until(what: string, check: () => Promise<boolean>, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await Bun.sleep(100);
  }
}

/** Requests of 500 new samples each until one is refused (at most 200): the samples acknowledged, the refusal. */
async function writeUntilRefused(rt: RuntimeProcess): Promise<{ acknowledged: number; refusal: string }> {
  let acknowledged = 0;
  for (let r = 0; r < 200; r++) {
    const res = await send(rt, batch(r, 10, 50));
    if (res.status === 503) return { acknowledged, refusal: res.body };
    if (res.status !== 204) throw new Error(`unexpected ${res.status}: ${res.body}`);
    acknowledged += 500;
    await Bun.sleep(5); // the bound is checked against the directory at most every second
  }
  return { acknowledged, refusal: "" };
}

const spoolBytes = (rt: RuntimeProcess) => scrapeValue(rt.url, "tarsd_remote_write_spool_bytes");

test("at its bound the spool answers 503 naming it; every 204 reaches InfluxDB once it is back", async () => {
  mode = "down";
  const rt = await app("bound", { REMOTE_WRITE_SPOOL_MAX_BYTES: "400000" });
  const { acknowledged, refusal } = await writeUntilRefused(rt);
  expect(refusal).toContain("spool full");
  expect(acknowledged).toBeGreaterThan(0);
  mode = "up";
  await until("the spool is replayed", async () => (await spoolBytes(rt)) === 0);
  expect(await stored("bound")).toBe(acknowledged);
}, 120_000);

test("a full disk answers 503 naming it; every 204 reaches InfluxDB once it is back", async () => {
  mode = "down";
  const dataDir = tempDir("tarsd-spool-disk-");
  // A 1 MiB disk of its own, in a mount namespace that ends with the process.
  const rt = await app("disk", { DATA_DIR: dataDir }, [
    "unshare",
    "-rm",
    "sh",
    "-c",
    'mount -t tmpfs -o size=1m tmpfs "$DATA_DIR" && exec "$@"',
    "sh",
  ]);
  const { acknowledged, refusal } = await writeUntilRefused(rt);
  expect(refusal).toContain("disk full");
  expect(acknowledged).toBeGreaterThan(0);
  mode = "up";
  await until("the spool is replayed", async () => (await spoolBytes(rt)) === 0);
  expect(await stored("disk")).toBe(acknowledged);
}, 120_000);

test(
  "two replicas on one spool: one replayer; killed -9 mid-segment, the other takes over: 0 lost, 0 twice",
  async () => {
    mode = "down";
    const spoolDir = tempDir("tarsd-spool-shared-");
    const env = { REMOTE_WRITE_SPOOL_DIR: spoolDir };
    const replicas = [await app("replay", env), await app("replay", env)];
    let acknowledged = 0;
    // Two large requests first: one segment of two replay batches (4 MiB each at most), so that the
    // replay can be caught between them. Then smaller ones through both replicas.
    for (let r = 0; r < 2; r++) {
      const res = await send(replicas[0]!, batch(r, 100, 700));
      expect(res).toMatchObject({ status: 204 });
      acknowledged += 70_000;
    }
    for (let r = 2; r < 40; r++) {
      const res = await send(replicas[r % 2]!, batch(r, 10, 100));
      expect(res).toMatchObject({ status: 204 });
      acknowledged += 1000;
    }
    const replayerOf = () =>
      Promise.all(replicas.map((rt) => scrapeValue(rt.url, "tarsd_remote_write_spool_replayer")));
    await until("one replica replays", async () => (await replayerOf()).reduce((a, b) => a + b) === 1);
    expect((await replayerOf()).sort()).toEqual([0, 1]);
    const replaying = (await replayerOf()).indexOf(1);

    forwarded = 0;
    held = 0;
    mode = "one-then-hold";
    await until("one batch through, the next held", () => Promise.resolve(forwarded >= 1 && held >= 1));
    await replicas[replaying]!.stop("SIGKILL");
    const left = readdirSync(spoolDir).filter((n) => /\.(seg|open)$/.test(n));
    expect(left.length).toBeGreaterThan(0); // caught mid-replay: the first batch's segment is still there
    expect(await stored("replay")).toBeGreaterThan(0);
    expect(await stored("replay")).toBeLessThan(acknowledged);

    mode = "up";
    const survivor = replicas[1 - replaying]!;
    await until(
      "the other replica replays",
      async () => (await scrapeValue(survivor.url, "tarsd_remote_write_spool_replayer")) === 1,
    );
    await until("the spool is replayed", async () => (await spoolBytes(survivor)) === 0, 120_000);
    // Restarted on the same spool, the killed one finds nothing left and the survivor stays the replayer.
    const restarted = await app("replay", env);
    expect(await scrapeValue(restarted.url, "tarsd_remote_write_spool_replayer")).toBe(0);
    const total = await stored("replay");
    console.log(
      `spool replay: ${acknowledged} samples acknowledged, ${forwarded} batches forwarded, ${total} points in InfluxDB`,
    );
    expect(total).toBe(acknowledged);
    expect(storedSum).toBe(sumOf(0, 2, 100, 700) + sumOf(2, 40, 10, 100));
    expect(readdirSync(spoolDir).filter((n) => /\.(seg|open)$/.test(n))).toEqual([]);
  },
  240_000,
);
