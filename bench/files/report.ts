// The summary: markdown tables of the rows (with each server's durability and store check), of every
// runtime ÷ peer ratio and of the RSS uploads, the aims with PASS/FAIL, printed and
// written with the raw figures to .artifacts/bench-files.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { NGINX_1_LABEL, NGINX_PUT_LABEL, RSS_BOUND_MIB, RSS_GIB, SEED_LABEL, SEED_THREADED_LABEL } from "./config.ts";
import type { DiskProbe } from "./disk.ts";
import type { Environment } from "./environment.ts";
import { fmt, round } from "./format.ts";
import type { Row } from "./measure.ts";
import type { RssResult } from "./rss.ts";
import type { Aims } from "./targets.ts";

export interface Results {
  env: Environment;
  rows: Row[];
  disk?: DiskProbe;
  rss: RssResult[];
  aims: Aims;
}

/** Short names of the peers in the ratio column. */
const SHORT: Record<string, string> = {
  [NGINX_1_LABEL]: "nginx w=1",
  "nginx (worker_processes auto)": "nginx w=auto",
  [NGINX_PUT_LABEL]: "nginx dav PUT",
  [SEED_LABEL]: "seed wsgiref",
  [SEED_THREADED_LABEL]: "seed waitress",
};
const short = (server: string) => SHORT[server] ?? server;

/** Every runtime ÷ peer ratio of the run, one per case, size and peer, with both sides' durability. */
export function ratios(rows: Row[]) {
  return rows.flatMap((r) =>
    Object.entries(r.ratio ?? {}).map(([peer, ratio]) => ({
      case: r.case,
      size: r.size,
      peer,
      ratio,
      runtimeDurability: r.durability,
      peerDurability: rows.find((p) => p.case === r.case && p.size === r.size && p.server === peer)?.durability ?? "",
    }))
  );
}

/** The wrk rows' table, the ratios' table and the RSS uploads' table (empty when that half did not run). */
function markdownTables({ rows, rss }: Results): { lines: string[]; ratioLines: string[]; rssLines: string[] } {
  const lines: string[] = [];
  lines.push(
    `| Case | Size | Server | req/s | MiB/s | p50 ms | p99 ms | runtime ÷ peer (req/s) | Durability | Store check | Status |`,
  );
  lines.push(`|---|---|---|---:|---:|---:|---:|---|---|---|---|`);
  for (const r of rows) {
    const ratio = r.ratio
      ? Object.entries(r.ratio).map(([peer, v]) => `${fmt(v, 2)}× vs ${short(peer)}`).join(", ")
      : r.server === "runtime" && r.case.includes("deduplicated")
      ? "— (duplicate path: no peer)"
      : "";
    lines.push(
      `| ${r.case} | ${r.size} | ${r.server} | ${fmt(r.requestsPerSec, 0)} | ${fmt(r.mibPerSec, 1)} | ${
        fmt(r.latencyMs.p50, 2)
      } | ${fmt(r.latencyMs.p99, 2)} | ${ratio} | ${r.durability} | ${r.stored?.checked ?? ""} | ${
        r.ok ? "ok" : `FAILED: ${r.note}`
      } |`,
    );
  }
  const ratioLines: string[] = [];
  const all = ratios(rows);
  if (all.length > 0) {
    ratioLines.push(`| Case | Size | Peer | runtime ÷ peer (req/s) | Peer's durability |`);
    ratioLines.push(`|---|---|---|---:|---|`);
    for (const r of all) {
      ratioLines.push(`| ${r.case} | ${r.size} | ${r.peer} | ${fmt(r.ratio, 2)}× | ${r.peerDurability} |`);
    }
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
  return { lines, ratioLines, rssLines };
}

function diskLine(micros: { beforeUploads: number; afterUploads: number }): string {
  return `File creation in TMPDIR: ${fmt(micros.beforeUploads, 0)} µs before the upload rows, ${
    fmt(micros.afterUploads, 0)
  } µs after (a quiet disk here: 30-40 µs; ext4 without a journal passes over inodes freed in the last minutes).`;
}

export function printSummary(results: Results): void {
  const { env, rows, disk, rss, aims } = results;
  const { lines, ratioLines, rssLines } = markdownTables(results);
  console.log(
    `\n## bench/files.ts — ${env.cpus} CPUs, bun ${env.bun}, ${env.nginx}, ${env.peers}, wrk ${env.wrk_args}\n`,
  );
  if (rows.length > 0) console.log(lines.join("\n"));
  if (ratioLines.length > 0) {
    console.log(`\nEvery ratio of this run, runtime ÷ peer (req/s):\n\n${ratioLines.join("\n")}`);
  }
  if (disk) console.log(`\n${diskLine(disk.fileCreateMicros)}`);
  if (rssLines.length > 0) console.log(`\n${rssLines.join("\n")}`);
  console.log("\n| Aim | runtime ÷ peer | target | |\n|---|---:|---:|---|");
  for (const a of aims.speed) {
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
}

/** Writes .artifacts/bench-files.json; `started` is the run's start (performance.now()). */
export function writeArtifact(results: Results, started: number): void {
  const { env, rows, disk, rss, aims } = results;
  const { lines, ratioLines, rssLines } = markdownTables(results);
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
    ratios: ratios(rows).map((r) => ({ ...r, ratio: round(r.ratio, 3) })),
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
      ...(ratioLines.length > 0 ? ["", ...ratioLines] : []),
      ...(disk ? ["", diskLine(disk.fileCreateMicros)] : []),
      "",
      ...rssLines,
    ]
      .join("\n").trim(),
    elapsedSeconds: round((performance.now() - started) / 1000, 1),
  };
  writeFileSync(join(artifacts, "bench-files.json"), JSON.stringify(report, null, 2) + "\n");
  console.log(`\nWrote .artifacts/bench-files.json (${fmt(report.elapsedSeconds, 0)} s)`);
}
