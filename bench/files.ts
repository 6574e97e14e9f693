// File-transfer benchmark: `bun bench/files.ts` (one script, one run, ~4 minutes).
//
// Starts the runtime (LOG_REQUESTS=0, temp DATA_DIR), Debian's nginx (`daemon off;`, generated
// config in a temp dir, sendfile on like Debian's default config) serving the store's names/ (symlinks
// to the blobs), and the seed (bench/seed/app_server.py: the course project's Bottle app, Debian's
// python3-bottle) on loopback ports, then drives them with the same wrk settings (c=8):
//   GET /files/:name 4 KiB and 1 MiB      runtime vs nginx (worker_processes 1, and auto)
//   POST /download (multipart) 4 KiB, 1 MiB runtime vs the seed
//   POST /upload (multipart) 1 MiB, 4 KiB runtime vs the seed
//   PUT /files/:name 4 KiB and 1 MiB      runtime vs nginx dav_methods PUT (no fsync, see below)
// and finally the upload RSS bound: a 2 GiB (sparse) file PUT and multipart-POSTed with curl to a
// fresh runtime while its VmRSS is sampled every 100 ms (and VmHWM, reset before each upload).
//
// A row with wrk socket errors, timeouts or non-2xx/3xx responses, a failed pre-flight request, or
// short responses is FAILED. Prints a markdown table and writes .artifacts/bench-files.json.
// Exit status: 0 when every row ran clean and every aim holds (AIMS below, and the RSS bound), 1 otherwise.
//
// Order: GET, POST /download, POST /upload (1 MiB, then 4 KiB), PUT. Rows that replace files come
// after the rows they would slow: ext4 without a journal (this machine's disk) passes over recently
// freed inodes when it makes a file, so after nginx's DAV PUT has replaced a file tens of thousands of
// times, every file creation costs 300-500 µs for minutes instead of 30-40 µs (measured: 2,000 creates
// before and after 10,000 replaces). The runtime makes two inodes per upload (its blob and the name's
// symlink) where the seed overwrites in place, so that churn, if left before the upload rows, would be
// measured as part of the runtime's upload. How slow file creation is right before and after the
// upload rows is measured (`fileCreateMicros`) and printed with the table, so a run made on a churned
// disk shows it.
//
// Servers compared with each other are measured in alternating segments (A B … B A, half the
// duration each: `measureTogether`), so a drift of the machine's speed weighs on both alike.
//
// Knobs (env): BENCH_DURATION seconds per row (10, in two segments), BENCH_WARMUP seconds before each row (1),
// BENCH_THREADS wrk threads (2), BENCH_RSS_GIB size of the RSS upload (2), BENCH_ONLY=wrk|rss
// (run one half; the exit status then judges only that half's aim).
//
// Fairness notes: the runtime fsyncs every upload (file and directory) before answering; nginx's
// PUT and the seed's upload do not, so those ratios measure durability as much as speed. Every
// upload carries new bytes (wrk rewrites 16 of them per request, bench/wrk/files.lua): the
// runtime's store keeps identical bytes once and would skip the file's fsync for a repeat. wrk
// shares the 2 cores with the server under test, identically for both servers.
import type { Subprocess } from "bun";
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, requireBinary } from "../harness/binaries.ts";
import { spawnChild } from "../harness/child-process.ts";
import { freePort } from "../harness/ports.ts";
import { startRuntime as startRuntimeProcess } from "../harness/runtime-process.ts";
import { wrk, type WrkResult } from "../harness/wrk.ts";

const DURATION_S = envNumber("BENCH_DURATION", 10);
const WARMUP_S = envNumber("BENCH_WARMUP", 1);
/** Each of a row's two segments (wrk takes whole seconds). */
const SEGMENT_S = Math.max(1, Math.round(DURATION_S / 2));
const THREADS = envNumber("BENCH_THREADS", 2);
const CONNECTIONS = 8;
const RSS_GIB = envNumber("BENCH_RSS_GIB", 2);
const RSS_BOUND_MIB = 64;
const ONLY = process.env.BENCH_ONLY ?? "";
if (!["", "wrk", "rss"].includes(ONLY)) {
  throw new Error(`BENCH_ONLY must be "wrk" or "rss", got ${JSON.stringify(ONLY)}`);
}
const NGINX_1_LABEL = "nginx (worker_processes 1)";
const UPLOAD_MARK = "<tarsd-bench-id>"; // 16 bytes
const SEED_LABEL = "seed (Bottle)";
/** The speed targets: runtime req/s over the peer's, in the same run. */
const AIMS = [
  { case: "POST /upload (multipart)", size: "1 MiB", peer: SEED_LABEL, aim: 4 },
  { case: "POST /download (multipart)", size: "1 MiB", peer: SEED_LABEL, aim: 3 },
  { case: "POST /download (multipart)", size: "4 KiB", peer: SEED_LABEL, aim: 3 },
  { case: "GET /files/:name", size: "1 MiB", peer: NGINX_1_LABEL, aim: 0.9 },
  { case: "GET /files/:name", size: "4 KiB", peer: NGINX_1_LABEL, aim: 0.5 },
] as const;
const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [
  { label: "4 KiB", tag: "4k", bytes: 4 * KiB },
  { label: "1 MiB", tag: "1m", bytes: 1 * MiB },
] as const;

const NGINX = requireBinary("nginx");
const CURL = requireBinary("curl");

// ---------------------------------------------------------------------------------------------
// Process and temp-file bookkeeping: everything started here is stopped on exit, even on error.

const children = new Set<Subprocess>();
const tempDirs: string[] = [];
const stoppers: (() => Promise<void>)[] = [];
let cleaned = false;

async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  for (const stop of stoppers.reverse()) await stop().catch(() => {});
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`\nbench: ${signal}, cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Runs a command to its end (curl, `nginx -t`, version probes); a run cut short by cleanup is killed. */
async function run(
  cmd: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  children.add(child);
  void child.exited.then(() => children.delete(child));
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout as ReadableStream).text(),
    new Response(child.stderr as ReadableStream).text(),
    child.exited,
  ]);
  return { code, stdout, stderr };
}

// ---------------------------------------------------------------------------------------------
// Servers.

interface Runtime {
  url: string;
  pid: number;
  dataDir: string;
  filesDir: string;
  stop(): Promise<void>;
}

/** The runtime as tests start it (harness/runtime-process.ts), with every function and no request log. */
async function startRuntime(dataDir: string): Promise<Runtime> {
  const runtime = await startRuntimeProcess({
    DATA_DIR: dataDir,
    LOG_REQUESTS: "0",
    MAX_UPLOAD_BYTES: String(5 * 1024 * MiB),
  });
  const stop = async () => void (await runtime.stop());
  stoppers.push(stop);
  return { url: runtime.url, pid: runtime.proc.pid, dataDir, filesDir: join(dataDir, "store", "names"), stop };
}

/** The seed app on a free port, keeping its files in `filesDir`. */
async function startSeed(filesDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  // Debian's python3 (where python3-bottle installs), whatever python3 comes first on PATH.
  const python = "/usr/bin/python3";
  const probe = await run([python, "-c", "import bottle"]).catch(() => ({ code: 1 }));
  if (probe.code !== 0) {
    throw new Error("the seed needs Debian's python3-bottle: run `bash scripts/setup --test` first");
  }
  mkdirSync(filesDir, { recursive: true });
  const port = await freePort(); // Bottle's wsgiref server cannot report a port it picked
  const seed = await spawnChild(
    SEED_LABEL,
    [python, join(REPO_ROOT, "bench", "seed", "app_server.py"), String(port), filesDir],
    "/download",
    {
      port,
      readyStatus: 405,
    },
  );
  const stop = () => seed.stop();
  stoppers.push(stop);
  return { url: seed.url, stop };
}

interface Nginx {
  url: string;
  label: string;
  stop(): Promise<void>;
}

async function startNginx(dir: string, filesDir: string, workers: "1" | "auto"): Promise<Nginx> {
  const port = await freePort();
  const prefix = join(dir, `nginx-${workers}`);
  const putDir = join(prefix, "put");
  for (const sub of ["", "put", "body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"]) {
    mkdirSync(join(prefix, sub), { recursive: true });
  }
  // Debian's packaged defaults where they matter for speed (sendfile, tcp_nopush, keepalive), no
  // access log (the runtime runs with LOG_REQUESTS=0), every path inside the temp prefix.
  const conf = `
daemon off;
master_process on;
worker_processes ${workers};
${process.getuid?.() === 0 ? "user root;" : ""}
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 1024; }
http {
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  access_log off;
  default_type application/octet-stream;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port};
    location /files/ { alias ${filesDir}/; }
    # The PUT peer: ngx_http_dav_module writes the body to a temp file, then renames it.
    location /put/ {
      alias ${putDir}/;
      dav_methods PUT;
      client_max_body_size 0;
      client_body_buffer_size 128k;
    }
  }
}
`;
  const confPath = join(prefix, "nginx.conf");
  writeFileSync(confPath, conf);
  const test = await run([NGINX, "-p", prefix, "-c", confPath, "-e", join(prefix, "logs", "error.log"), "-t"]);
  if (test.code !== 0) throw new Error(`nginx -t failed:\n${test.stderr}`);
  // nginx cannot bind port 0, so it gets a free port picked here. A directory without autoindex
  // answers 403: it is up. SIGTERM stops the master and it takes its workers down with it.
  const nginx = await spawnChild(
    `nginx (worker_processes ${workers})`,
    [NGINX, "-p", prefix, "-c", confPath, "-e", join(prefix, "logs", "error.log")],
    "/files/",
    { port, readyStatus: 403 },
  );
  const stop = () => nginx.stop();
  stoppers.push(stop);
  const url = nginx.url;
  return { url, label: `nginx (worker_processes ${workers})`, stop };
}

// ---------------------------------------------------------------------------------------------
// Load generation.

interface Row {
  case: string;
  size: string;
  server: string;
  ok: boolean;
  note?: string;
  requestsPerSec: number;
  mibPerSec: number;
  latencyMs: { p50: number; p99: number };
  errors: Record<string, number>;
  requests: number;
  /** Set on runtime rows that have an nginx peer: runtime req/s over the peer's. */
  ratio?: Record<string, number>;
}

interface Load {
  case: string;
  size: (typeof SIZES)[number];
  server: string;
  url: string;
  method?: "GET" | "PUT" | "POST";
  bodyFile?: string;
  contentType?: string;
  /** Bytes each response must at least carry (GET / download): catches short or error bodies. */
  minResponseBytes?: number;
  /** Uploads: 16 bytes of the body that wrk replaces in every request, so each stores new bytes. */
  uniqueMark?: string;
}

function wrkLoad(load: Load, seconds: number): Promise<WrkResult> {
  return wrk({
    url: load.url,
    script: "files",
    seconds,
    connections: CONNECTIONS,
    threads: THREADS,
    env: {
      BENCH_METHOD: load.method ?? "GET",
      BENCH_BODY_FILE: load.bodyFile ?? "",
      BENCH_CONTENT_TYPE: load.contentType ?? "",
      BENCH_UNIQUE_MARK: load.uniqueMark ?? "",
    },
  });
}

/** One request with the exact method/body/headers wrk will send; its status must be 2xx. */
async function preflight(load: Load): Promise<string | undefined> {
  const res = await fetch(load.url, {
    method: load.method ?? "GET",
    body: load.bodyFile ? Bun.file(load.bodyFile) : undefined,
    headers: load.contentType ? { "content-type": load.contentType } : {},
  });
  const body = await res.arrayBuffer();
  if (res.status < 200 || res.status > 299) {
    return `pre-flight ${res.status}: ${new TextDecoder().decode(body.slice(0, 300))}`;
  }
  if (load.minResponseBytes && body.byteLength !== load.minResponseBytes) {
    return `pre-flight body ${body.byteLength} bytes`;
  }
  return undefined;
}

/**
 * Measures servers that are compared with each other in alternating segments: each gets a warm-up,
 * then wrk drives them in the order A B … B A, SEGMENT_S seconds a segment, and each row adds up
 * its two segments. This machine's speed drifts from minute to minute; measured one after the other,
 * the later server would get a different machine than the earlier one, where a palindromic order gives
 * each the same average moment (a linear drift cancels out). p50 is the segments' request-weighted
 * mean of medians, p99 the worse of the two.
 */
async function measureTogether(loads: Load[]): Promise<Row[]> {
  const rows = new Map<Load, Row>();
  const results = new Map<Load, WrkResult[]>();
  for (const load of loads) {
    const failed = await preflight(load).catch((err) => `pre-flight error: ${String(err)}`);
    rows.set(load, {
      case: load.case,
      size: load.size.label,
      server: load.server,
      ok: false,
      requestsPerSec: 0,
      mibPerSec: 0,
      latencyMs: { p50: 0, p99: 0 },
      errors: {},
      requests: 0,
      ...(failed ? { note: failed } : {}),
    });
    if (!failed) results.set(load, []);
  }
  const running = [...results.keys()];
  for (const load of running) if (WARMUP_S > 0) await wrkLoad(load, WARMUP_S);
  for (const load of [...running, ...[...running].reverse()]) {
    results.get(load)!.push(await wrkLoad(load, SEGMENT_S));
  }
  for (const load of loads) {
    const row = rows.get(load)!;
    process.stdout.write(`  ${`${load.case} ${load.size.label} — ${load.server}`.padEnd(62)} `);
    const segments = results.get(load);
    if (!segments) {
      console.log(`FAILED (${row.note})`);
      continue;
    }
    const sum = (pick: (r: WrkResult) => number) => segments.reduce((total, r) => total + pick(r), 0);
    const requests = sum((r) => r.requests);
    const bytes = sum((r) => r.bytes);
    const seconds = sum((r) => r.duration_us) / 1e6;
    row.requests = requests;
    row.requestsPerSec = requests / seconds;
    row.mibPerSec = (requests * load.size.bytes) / seconds / MiB; // Payload bytes, either direction.
    row.latencyMs = {
      p50: requests > 0 ? sum((r) => r.latency_us.p50 * r.requests) / requests / 1000 : 0,
      p99: Math.max(...segments.map((r) => r.latency_us.p99)) / 1000,
    };
    const errors: Record<string, number> = {};
    for (const r of segments) {
      for (const [kind, n] of Object.entries(r.errors)) if (n > 0) errors[kind] = (errors[kind] ?? 0) + n;
    }
    row.errors = errors;
    const problems = Object.entries(errors).map(([kind, n]) =>
      `${n} ${kind === "status" ? "non-2xx/3xx" : kind} errors`
    );
    if (requests === 0) problems.push("no requests completed");
    if (load.minResponseBytes && requests > 0 && bytes / requests < load.minResponseBytes) {
      problems.push(`responses average ${Math.round(bytes / requests)} bytes, expected ≥ ${load.minResponseBytes}`);
    }
    row.ok = problems.length === 0;
    if (!row.ok) row.note = problems.join("; ");
    console.log(
      `${fmt(row.requestsPerSec, 0).padStart(8)} req/s ${fmt(row.mibPerSec, 1).padStart(8)} MiB/s  p99 ${
        fmt(row.latencyMs.p99, 2)
      } ms` +
        (row.ok ? "" : `  FAILED (${row.note})`),
    );
  }
  return loads.map((load) => rows.get(load)!);
}

// ---------------------------------------------------------------------------------------------
// Upload RSS bound.

interface RssResult {
  case: string;
  bytes: number;
  ok: boolean;
  baselineMiB: number;
  peakMiB: number;
  deltaMiB: number;
  hwmDeltaMiB?: number;
  seconds: number;
  mibPerSec: number;
  samples: number;
  note?: string;
}

function rssKiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

async function rssUpload(dir: string, bigFile: string, bytes: number, mode: "PUT" | "multipart"): Promise<RssResult> {
  const dataDir = join(dir, `rss-${mode.toLowerCase()}`);
  const runtime = await startRuntime(dataDir);
  const label = mode === "PUT" ? `PUT /files/:name ${RSS_GIB} GiB` : `POST /upload (multipart) ${RSS_GIB} GiB`;
  process.stdout.write(`  ${label.padEnd(62)} `);
  try {
    // Let start-up garbage settle, then take the baseline and reset the high-water mark.
    await Bun.sleep(1000);
    const baseline = rssKiB(runtime.pid).rss;
    let hwmReset = false;
    try {
      writeFileSync(`/proc/${runtime.pid}/clear_refs`, "5");
      hwmReset = true;
    } catch {
      // Older kernels or no permission: rely on the samples alone.
    }
    let peak = baseline;
    let samples = 0;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssKiB(runtime.pid).rss);
        samples++;
      } catch {
        // Process gone; the curl result reports it.
      }
    }, 100);
    const name = `rss-${mode.toLowerCase()}.bin`;
    // One curl per upload mode; only how the body goes differs (raw PUT or the historic multipart POST).
    const curl = [CURL, "-sS", "--max-time", "600", "-H", "Expect:", "-o", "-", "-w", "\n%{http_code}"];
    const args = mode === "PUT"
      ? [...curl, "-T", bigFile, `${runtime.url}/files/${name}`]
      : [...curl, "-F", `file=@${bigFile};filename=${name}`, `${runtime.url}/upload`];
    const started = performance.now();
    const out = await run(args);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const after = rssKiB(runtime.pid);
    peak = Math.max(peak, after.rss);
    const status = Number(out.stdout.trim().split("\n").pop());
    const toMiB = (kib: number) => kib / 1024;
    const result: RssResult = {
      case: label,
      bytes,
      ok: false,
      baselineMiB: toMiB(baseline),
      peakMiB: toMiB(hwmReset ? Math.max(peak, after.hwm) : peak),
      deltaMiB: 0,
      seconds,
      mibPerSec: bytes / MiB / seconds,
      samples,
    };
    result.deltaMiB = result.peakMiB - result.baselineMiB;
    if (hwmReset) result.hwmDeltaMiB = toMiB(after.hwm - baseline);
    const problems: string[] = [];
    if (out.code !== 0 || status < 200 || status > 299) {
      problems.push(`upload failed: curl ${out.code}, HTTP ${status}: ${out.stderr}${out.stdout.slice(0, 300)}`);
    } else if (!out.stdout.includes(`"size":${bytes}`)) {
      problems.push(`stored size is not ${bytes}: ${out.stdout.slice(0, 300)}`);
    }
    if (result.deltaMiB > RSS_BOUND_MIB) {
      problems.push(`RSS rose ${fmt(result.deltaMiB, 1)} MiB > ${RSS_BOUND_MIB} MiB`);
    }
    result.ok = problems.length === 0;
    if (!result.ok) result.note = problems.join("; ");
    console.log(
      `baseline ${fmt(result.baselineMiB, 1)} MiB, peak ${fmt(result.peakMiB, 1)} MiB, Δ ${
        fmt(result.deltaMiB, 1)
      } MiB, ` +
        `${fmt(seconds, 1)} s (${fmt(result.mibPerSec, 0)} MiB/s) ${result.ok ? "PASS" : `FAIL (${result.note})`}`,
    );
    return result;
  } finally {
    await runtime.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

/** A multipart/form-data body as fetch would send it (the web's own encoder), saved for wrk to replay. */
async function multipartBody(path: string, field: string, value: string | File) {
  const form = new FormData();
  form.append(field, value);
  const request = new Request("http://encoder.invalid/", { method: "POST", body: form });
  // Read before the body: Bun computes a FormData body's content type lazily and forgets it once consumed.
  const contentType = request.headers.get("content-type")!;
  writeFileSync(path, new Uint8Array(await request.arrayBuffer()));
  return { path, contentType };
}

function fmt(n: number, digits: number): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? "");
  return process.env[name] && Number.isFinite(value) && value >= 0 ? value : fallback;
}

async function version(cmd: string[]): Promise<string> {
  const out = await run(cmd).catch(() => ({ stdout: "", stderr: "" }));
  return (out.stdout + out.stderr).split("\n")[0]!.trim();
}

async function main(): Promise<number> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), "tarsd-bench-"));
  tempDirs.push(dir);
  const bodies = join(dir, "bodies");
  mkdirSync(bodies);

  const env = {
    cpus: cpus().length,
    bun: Bun.version,
    nginx: await version([NGINX, "-v"]),
    wrk: await version([requireBinary("wrk"), "-v"]),
    wrk_args:
      `-t${THREADS} -c${CONNECTIONS}, 2 × -d${SEGMENT_S}s per server in the order A B … B A (warm-up ${WARMUP_S}s)`,
  };
  console.log(`bench/files.ts: ${env.cpus} CPUs, bun ${env.bun}, ${env.nginx}, wrk ${env.wrk_args}`);

  const rows: Row[] = [];
  let disk: { tmpdir: string; fileCreateMicros: { beforeUploads: number; afterUploads: number } } | undefined;
  if (ONLY !== "rss") {
    const runtime = await startRuntime(join(dir, "data"));
    const nginxes = [await startNginx(dir, runtime.filesDir, "1"), await startNginx(dir, runtime.filesDir, "auto")];
    const seedDir = join(dir, "seed");
    const seed = await startSeed(seedDir);

    // Stored through the runtime's own PUT, as in production; the seed gets the same bytes in its directory.
    // Upload bodies start with UPLOAD_MARK, which wrk replaces in each request: every upload is new
    // bytes, written and fsynced (an identical upload would only be linked to the blob it repeats).
    const payloads = new Map<string, { path: string; data: Uint8Array<ArrayBuffer> }>();
    for (const size of SIZES) {
      const data = new Uint8Array(randomBytes(size.bytes));
      data.set(new TextEncoder().encode(UPLOAD_MARK));
      const path = join(bodies, `payload-${size.tag}.bin`);
      writeFileSync(path, data);
      payloads.set(size.tag, { path, data });
      const res = await fetch(`${runtime.url}/files/bench-${size.tag}.bin`, { method: "PUT", body: data });
      if (res.status !== 201) throw new Error(`seeding bench-${size.tag}.bin: HTTP ${res.status} ${await res.text()}`);
      writeFileSync(join(seedDir, `bench-${size.tag}.bin`), data);
    }

    const withRatio = (runtimeRow: Row, peers: Row[]) => {
      runtimeRow.ratio = Object.fromEntries(
        peers.map((p) => [p.server, p.requestsPerSec > 0 ? runtimeRow.requestsPerSec / p.requestsPerSec : 0]),
      );
    };

    console.log("\nGET /files/:name");
    for (const size of SIZES) {
      const name = `bench-${size.tag}.bin`;
      const base = { case: "GET /files/:name", size, minResponseBytes: size.bytes };
      const [rt, ...peers] = await measureTogether([
        { ...base, server: "runtime", url: `${runtime.url}/files/${name}` },
        ...nginxes.map((ngx) => ({ ...base, server: ngx.label, url: `${ngx.url}/files/${name}` })),
      ]);
      withRatio(rt!, peers);
      rows.push(rt!, ...peers);
    }

    console.log("\nPOST /download (multipart, field `name`)");
    for (const size of SIZES) {
      const body = await multipartBody(join(bodies, `name-${size.tag}.multipart`), "name", `bench-${size.tag}.bin`);
      const base = {
        case: "POST /download (multipart)",
        size,
        method: "POST" as const,
        bodyFile: body.path,
        contentType: body.contentType,
        minResponseBytes: size.bytes,
      };
      const [rt, peer] = await measureTogether([
        { ...base, server: "runtime", url: `${runtime.url}/download` },
        { ...base, server: SEED_LABEL, url: `${seed.url}/download` },
      ]);
      withRatio(rt!, [peer!]);
      rows.push(rt!, peer!);
    }

    const beforeUploads = fileCreateMicros(dir, "before-uploads");
    console.log(`\nPOST /upload (multipart, field \`file\`); file creation in TMPDIR: ${fmt(beforeUploads, 0)} µs`);
    for (const size of [...SIZES].reverse()) { // the size with an aim first (see "Order" above)
      const body = await multipartBody(
        join(bodies, `file-${size.tag}.multipart`),
        "file",
        new File([payloads.get(size.tag)!.data], `upload-${size.tag}.bin`, { type: "application/octet-stream" }),
      );
      const base = {
        case: "POST /upload (multipart)",
        size,
        method: "POST" as const,
        bodyFile: body.path,
        uniqueMark: UPLOAD_MARK,
      };
      const [rt, peer] = await measureTogether([
        { ...base, server: "runtime", url: `${runtime.url}/upload`, contentType: body.contentType },
        { ...base, server: SEED_LABEL, url: `${seed.url}/upload`, contentType: body.contentType },
      ]);
      withRatio(rt!, [peer!]);
      rows.push(rt!, peer!);
    }
    disk = {
      tmpdir: tmpdir(),
      fileCreateMicros: { beforeUploads, afterUploads: fileCreateMicros(dir, "after-uploads") },
    };

    console.log("\nPUT /files/:name (raw body)");
    for (const size of SIZES) {
      const base = {
        case: "PUT /files/:name",
        size,
        method: "PUT" as const,
        bodyFile: payloads.get(size.tag)!.path,
        contentType: "application/octet-stream",
        uniqueMark: UPLOAD_MARK,
      };
      const [rt, peer] = await measureTogether([
        { ...base, server: "runtime", url: `${runtime.url}/files/put-${size.tag}.bin` },
        { ...base, server: "nginx dav PUT (worker_processes 1)", url: `${nginxes[0]!.url}/put/put-${size.tag}.bin` },
      ]);
      withRatio(rt!, [peer!]);
      rows.push(rt!, peer!);
    }

    for (const ngx of nginxes) await ngx.stop();
    await seed.stop();
    await runtime.stop();
    rmSync(join(dir, "data"), { recursive: true, force: true });
  }

  const rss: RssResult[] = [];
  if (ONLY !== "wrk") {
    const bytes = RSS_GIB * 1024 * MiB;
    console.log(`\nUpload RSS bound (${RSS_GIB} GiB sparse file, curl, fresh runtime each, VmRSS every 100 ms)`);
    const bigFile = join(dir, `big-${RSS_GIB}g.bin`);
    const fd = openSync(bigFile, "w");
    ftruncateSync(fd, bytes);
    closeSync(fd);
    try {
      rss.push(await rssUpload(dir, bigFile, bytes, "PUT"));
      rss.push(await rssUpload(dir, bigFile, bytes, "multipart"));
    } finally {
      rmSync(bigFile, { force: true });
    }
  }

  // ------------------------------------------------------------------- summary
  const speed = AIMS.map((a) => {
    const row = rows.find((r) => r.case === a.case && r.size === a.size && r.server === "runtime");
    const measured = row?.ratio?.[a.peer] ?? 0;
    return { ...a, measured: round(measured, 3), pass: ONLY === "rss" ? null : measured >= a.aim };
  });
  const aims = {
    speed,
    upload_rss_bound: {
      aim: `Δ RSS ≤ ${RSS_BOUND_MIB} MiB for a ${RSS_GIB} GiB upload`,
      measured: rss.map((r) => ({ case: r.case, delta_mib: round(r.deltaMiB, 1) })),
      pass: rss.length === 0 ? null : rss.every((r) => r.ok),
    },
  };

  const lines: string[] = [];
  lines.push(`| Case | Size | Server | req/s | MiB/s | p50 ms | p99 ms | runtime ÷ nginx (req/s) | Status |`);
  lines.push(`|---|---|---|---:|---:|---:|---:|---|---|`);
  for (const r of rows) {
    const ratio = r.ratio
      ? Object.entries(r.ratio)
        .map(([peer, v]) =>
          `${fmt(v, 2)}× vs ${peer.replace(/^nginx /, "").replace("(worker_processes ", "w=").replace(")", "")}`
        )
        .join(", ")
      : "";
    lines.push(
      `| ${r.case} | ${r.size} | ${r.server} | ${fmt(r.requestsPerSec, 0)} | ${fmt(r.mibPerSec, 1)} | ${
        fmt(r.latencyMs.p50, 2)
      } | ${fmt(r.latencyMs.p99, 2)} | ${ratio} | ${r.ok ? "ok" : `FAILED: ${r.note}`} |`,
    );
  }
  const rssLines: string[] = [];
  if (rss.length > 0) {
    rssLines.push(`| Upload | Baseline MiB | Peak MiB | Δ MiB (bound ${RSS_BOUND_MIB}) | Time s | MiB/s | Result |`);
    rssLines.push(`|---|---:|---:|---:|---:|---:|---|`);
    for (const r of rss) {
      rssLines.push(
        `| ${r.case} | ${fmt(r.baselineMiB, 1)} | ${fmt(r.peakMiB, 1)} | ${fmt(r.deltaMiB, 1)} | ${
          fmt(r.seconds, 1)
        } | ${fmt(r.mibPerSec, 0)} | ${r.ok ? "PASS" : `FAIL: ${r.note}`} |`,
      );
    }
  }
  console.log(`\n## bench/files.ts — ${env.cpus} CPUs, bun ${env.bun}, ${env.nginx}, wrk ${env.wrk_args}\n`);
  if (rows.length > 0) console.log(lines.join("\n"));
  if (disk) console.log(`\n${diskLine(disk.fileCreateMicros)}`);
  if (rssLines.length > 0) console.log(`\n${rssLines.join("\n")}`);
  console.log("\n| Aim | runtime ÷ peer | target | |\n|---|---:|---:|---|");
  for (const a of speed) {
    console.log(
      `| ${a.case} ${a.size} vs ${a.peer} | ${fmt(a.measured, 2)}× | ≥ ${a.aim}× | ${
        a.pass === null ? "SKIPPED" : a.pass ? "PASS" : "FAIL"
      } |`,
    );
  }
  console.log(
    `Aim upload RSS Δ ≤ ${RSS_BOUND_MIB} MiB at ${RSS_GIB} GiB: ${
      rss.length === 0 ? "SKIPPED" : aims.upload_rss_bound.pass ? "PASS" : "FAIL"
    }`,
  );

  const artifacts = join(REPO_ROOT, ".artifacts");
  mkdirSync(artifacts, { recursive: true });
  const report = {
    generated: new Date().toISOString(),
    environment: env,
    rows: rows.map((r) => ({
      ...r,
      requestsPerSec: round(r.requestsPerSec, 1),
      mibPerSec: round(r.mibPerSec, 2),
      latencyMs: { p50: round(r.latencyMs.p50, 3), p99: round(r.latencyMs.p99, 3) },
      ratio: r.ratio && Object.fromEntries(Object.entries(r.ratio).map(([k, v]) => [k, round(v, 3)])),
    })),
    rss: rss.map((r) => ({
      ...r,
      baselineMiB: round(r.baselineMiB, 1),
      peakMiB: round(r.peakMiB, 1),
      deltaMiB: round(r.deltaMiB, 1),
      hwmDeltaMiB: r.hwmDeltaMiB === undefined ? undefined : round(r.hwmDeltaMiB, 1),
      seconds: round(r.seconds, 2),
      mibPerSec: round(r.mibPerSec, 1),
    })),
    disk: disk && {
      tmpdir: disk.tmpdir,
      fileCreateMicros: {
        beforeUploads: round(disk.fileCreateMicros.beforeUploads, 1),
        afterUploads: round(disk.fileCreateMicros.afterUploads, 1),
      },
    },
    aims,
    markdown: [
      ...(rows.length > 0 ? lines : []),
      ...(disk ? ["", diskLine(disk.fileCreateMicros)] : []),
      "",
      ...rssLines,
    ]
      .join("\n").trim(),
    elapsedSeconds: round((performance.now() - started) / 1000, 1),
  };
  writeFileSync(join(artifacts, "bench-files.json"), JSON.stringify(report, null, 2) + "\n");
  console.log(`\nWrote .artifacts/bench-files.json (${fmt(report.elapsedSeconds, 0)} s)`);

  const rowsOk = rows.every((r) => r.ok);
  return rowsOk && speed.every((a) => a.pass !== false) && (rss.length === 0 || aims.upload_rss_bound.pass) ? 0 : 1;
}

/**
 * Mean µs to create an empty file in a new directory under `dir` (200 files, kept until cleanup:
 * removing them would free inodes, the very thing that slows file creation on ext4 without a
 * journal). The upload rows make files and the seed does not, so this is read beside their ratio.
 */
function fileCreateMicros(dir: string, label: string): number {
  const probe = join(dir, `create-probe-${label}`);
  mkdirSync(probe);
  const started = performance.now();
  for (let i = 0; i < 200; i++) closeSync(openSync(join(probe, String(i)), "wx"));
  return (performance.now() - started) * 1000 / 200;
}

function diskLine(micros: { beforeUploads: number; afterUploads: number }): string {
  return `File creation in TMPDIR: ${fmt(micros.beforeUploads, 0)} µs before the upload rows, ${
    fmt(micros.afterUploads, 0)
  } µs after (a quiet disk here: 30-40 µs; ext4 without a journal passes over inodes freed in the last minutes).`;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(`bench/files.ts: ${(err as Error).stack ?? String(err)}`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
