// The summary: markdown tables of the rows and the RSS uploads, the aims with PASS/FAIL, printed and
// written with the raw figures to .artifacts/bench-files.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { RSS_BOUND_MIB, RSS_GIB } from "./config.ts";
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

/** The wrk rows' table and the RSS uploads' table (empty when that half did not run). */
function markdownTables({ rows, rss }: Results): { lines: string[]; rssLines: string[] } {
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
  return { lines, rssLines };
}

function diskLine(micros: { beforeUploads: number; afterUploads: number }): string {
  return `File creation in TMPDIR: ${fmt(micros.beforeUploads, 0)} µs before the upload rows, ${
    fmt(micros.afterUploads, 0)
  } µs after (a quiet disk here: 30-40 µs; ext4 without a journal passes over inodes freed in the last minutes).`;
}

export function printSummary(results: Results): void {
  const { env, rows, disk, rss, aims } = results;
  const { lines, rssLines } = markdownTables(results);
  console.log(`\n## bench/files.ts — ${env.cpus} CPUs, bun ${env.bun}, ${env.nginx}, wrk ${env.wrk_args}\n`);
  if (rows.length > 0) console.log(lines.join("\n"));
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
  const { lines, rssLines } = markdownTables(results);
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
}
