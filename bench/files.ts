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
// Exit status: 0 when every row ran clean and every aim holds (AIMS in files/targets.ts, and the RSS
// bound), 1 otherwise.
//
// Order: GET, POST /download, POST /upload (1 MiB, then 4 KiB), PUT. Rows that replace files come
// after the rows they would slow: on ext4 without a journal (this machine's disk) file creation stays
// slow for minutes after many files were replaced (bench/NOTES.md). The runtime makes two inodes per
// upload (its blob and the name's symlink) where the seed overwrites in place, so that churn, if left
// before the upload rows, would be measured as part of the runtime's upload. How slow file creation is
// right before and after the upload rows is measured (`fileCreateMicros`) and printed with the table,
// so a run made on a churned disk shows it.
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
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServers, stopServers } from "./files/servers.ts";
import { preparePayloads } from "./files/bodies.ts";
import { runCases } from "./files/cases.ts";
import { ONLY } from "./files/config.ts";
import type { DiskProbe } from "./files/disk.ts";
import { describeEnvironment } from "./files/environment.ts";
import type { Row } from "./files/measure.ts";
import { benchTempDir, cleanup, cleanUpOnSignals } from "./files/processes.ts";
import { printSummary, writeArtifact } from "./files/report.ts";
import { runRssBound } from "./files/rss.ts";
import { checkTargets, exitStatus } from "./files/targets.ts";

cleanUpOnSignals();

async function main(): Promise<number> {
  const started = performance.now();
  const dir = benchTempDir();
  const bodies = join(dir, "bodies");
  mkdirSync(bodies);

  const env = await describeEnvironment();
  console.log(`bench/files.ts: ${env.cpus} CPUs, bun ${env.bun}, ${env.nginx}, wrk ${env.wrk_args}`);

  let rows: Row[] = [];
  let disk: DiskProbe | undefined;
  if (ONLY !== "rss") {
    const servers = await startServers(dir);
    const payloads = await preparePayloads(bodies, servers);
    ({ rows, disk } = await runCases(dir, servers, bodies, payloads));
    await stopServers(servers);
  }
  const rss = ONLY !== "wrk" ? await runRssBound(dir) : [];

  const aims = checkTargets(rows, rss);
  const results = { env, rows, disk, rss, aims };
  printSummary(results);
  writeArtifact(results, started);
  return exitStatus(rows, rss, aims);
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
