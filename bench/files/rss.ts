// The upload RSS bound: a big (sparse) file PUT and multipart-POSTed with curl to a fresh runtime
// while its VmRSS is sampled every 100 ms (and VmHWM, reset before each upload).
import { closeSync, ftruncateSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireBinary } from "../../harness/binaries.ts";
import { MiB, RSS_BOUND_MIB, RSS_GIB } from "./config.ts";
import { fmt } from "./format.ts";
import { run } from "./processes.ts";
import { startRuntime } from "./servers.ts";

const CURL = requireBinary("curl");

/** The RSS_GIB GiB upload, raw PUT then multipart, each to a fresh runtime with its data under `dir`. */
export async function runRssBound(dir: string): Promise<RssResult[]> {
  const rss: RssResult[] = [];
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
  return rss;
}

export interface RssResult {
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
