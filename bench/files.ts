// File-transfer benchmark: `bun bench/files.ts` (one script, one run; about 9 minutes at the defaults).
//
// Starts the runtime (LOG_REQUESTS=0, temp DATA_DIR), Debian's nginx (`daemon off;`, generated
// config in a temp dir, sendfile on like Debian's default config) serving the store's names/ (symlinks
// to the blobs), the seed (bench/seed/app_server.py: the course project's Bottle app, Debian's
// python3-bottle) as shipped, on Bottle's default wsgiref server (one request at a time), and the same
// app on waitress (Debian's python3-waitress, 4 threads: the threaded server a Bottle user would pick),
// and dufs (a file server built from crates.io by `bash scripts/setup --test` into .tools/cargo) on
// loopback ports, then drives them with the same wrk settings (c=8):
//   GET /files/:name 4 KiB and 1 MiB      runtime vs nginx (worker_processes 1, and auto)
//   GET /files/:name over distinct files   runtime vs nginx (worker_processes 1): 4 KiB × 32,768 and
//                                          1 MiB × 128, each set 4× the download function's small-blob
//                                          memory (lib/files/small-blobs.ts), a different file per request
//   POST /download (multipart) 4 KiB, 1 MiB runtime vs both seeds
//   POST /upload (multipart) 1 MiB, 4 KiB runtime vs both seeds
//   POST /upload, identical bytes          runtime only: the duplicate path (stored once, then linked)
//   PUT /files/:name 4 KiB and 1 MiB      runtime vs nginx dav_methods PUT and dufs
// and finally the upload RSS bound: a 2 GiB (sparse) file PUT and multipart-POSTed with curl to a
// fresh runtime while its VmRSS is sampled every 100 ms (and VmHWM, reset before each upload).
// dufs serves GETs too, but its small GETs stall at about 200 req/s on kept-alive connections: it is
// no GET peer here, nginx is.
//
// Every upload and PUT carries bytes never sent before: each body holds a 16-byte mark that wrk
// replaces in every request by `%06x%02x%08x` of (run id, thread, counter) (bench/wrk/files.lua); the
// run id is new for every wrk invocation and every pre-flight request of this process (a random base
// plus a counter, files/measure.ts), so warm-up and segments never repeat each other's bytes. Checked,
// not assumed (files/written.ts): the files under the runtime's store/blobs/ and its own count of 2xx
// answers on the row's route (/metrics) are read right before an upload row's pre-flight and after its
// last wrk run (warm-up included), and the row is FAILED unless the store gained exactly one blob per
// 2xx answer, and that count lies between the 2xx answers wrk got and that plus c=8 per wrk run (the
// requests in flight when wrk stops, which it never counts but the runtime still stores and answers).
// A peer writes each upload under its name, so its files cannot be counted: after its wrk runs the
// table says whether the file is a whole upload of the row (dufs, writing in place, can be left with
// part of one that wrk cut off), then one more upload is sent and the row is FAILED unless the file
// then holds exactly its bytes. The duplicate path is its own row, labelled so, with no peer: its
// store must gain exactly one blob.
//
// A row with wrk socket errors, timeouts or non-2xx/3xx responses, a failed pre-flight request,
// short responses or a failed store check is FAILED. Prints a markdown table (with each server's
// durability: whether it fsyncs an upload before answering), every runtime ÷ peer ratio of the run,
// and writes .artifacts/bench-files.json. Exit status: 0 when every row ran clean and every aim holds
// (AIMS in files/targets.ts, against the seed as shipped, and the RSS bound), 1 otherwise.
//
// Order: GET, GET over distinct files, POST /download, POST /upload (1 MiB, then 4 KiB), the
// duplicate path, PUT. Rows that replace files come after the rows they would slow: on ext4 without
// a journal (this machine's disk) file creation stays slow for minutes after many files were replaced
// (bench/NOTES.md). The runtime makes two inodes per upload (its blob and the name's symlink) where the
// seed overwrites in place, so that churn, if left before the upload rows, would be measured as part
// of the runtime's upload. How slow file creation is right before and after the upload rows is
// measured (`fileCreateMicros`) and printed with the table, so a run made on a churned disk shows it.
//
// Servers compared with each other are measured in alternating segments (A B … B A, half the
// duration each: `measureTogether`), so a drift of the machine's speed weighs on both alike.
//
// Knobs (env): BENCH_DURATION seconds per row (10, in two segments), BENCH_WARMUP seconds before each row (1),
// BENCH_THREADS wrk threads (2, at most 255), BENCH_RSS_GIB size of the RSS upload (2), BENCH_ONLY=wrk|rss
// (run one half; the exit status then judges only that half's aim).
//
// Fairness notes: the runtime fsyncs every upload (the blob's data, its directory, names/) before
// answering; nginx's DAV PUT, dufs and the seed do not (their rows say so), so those ratios measure
// durability as much as speed. wrk shares the 2 cores with the server under test, identically for
// every server.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServers, stopServers } from "./files/servers.ts";
import { prepareDistinctFiles, preparePayloads } from "./files/bodies.ts";
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
  console.log(`bench/files.ts: ${env.cpus} CPUs, bun ${env.bun}, ${env.nginx}, ${env.peers}, wrk ${env.wrk_args}`);

  let rows: Row[] = [];
  let disk: DiskProbe | undefined;
  if (ONLY !== "rss") {
    const servers = await startServers(dir);
    const payloads = await preparePayloads(bodies, servers);
    const distinct = await prepareDistinctFiles(bodies, servers);
    ({ rows, disk } = await runCases(dir, servers, bodies, payloads, distinct));
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
