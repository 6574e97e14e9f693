// The summary: the rows (each with its durability), every ratio of the run with the targets it is
// judged by (PASS/FAIL), the decode+convert rates; printed as markdown and written with the raw figures
// to .artifacts/bench-remote-write.json. The exit status is 1 when a row failed or a target was missed
// (failures).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import {
  CONNECTIONS,
  DURATION_S,
  MAX_OVER_CEILING,
  ONLY,
  SEGMENT_S,
  SERIES,
  TARGETS,
  THREADS,
  WARMUP_S,
} from "./config.ts";
import type { Row } from "./measure.ts";
import type { TargetKey } from "./servers.ts";

export interface Ratio {
  name: string;
  of: TargetKey;
  over: TargetKey;
  /** NaN when either row failed. */
  value: number;
  target?: number;
  /** Above this the run is noise (a function row over its own line-protocol ceiling): failed. */
  max?: number;
  /** true PASS, false FAIL, undefined: reported, not judged. */
  pass?: boolean;
  meaning: string;
}

/** Every ratio of the run, each between rows of one alternating group. */
const RATIOS: Omit<Ratio, "value" | "pass">[] = [
  {
    name: "function → VictoriaMetrics ÷ VictoriaMetrics fed the function's output (the line-protocol ceiling)",
    of: "function-vm",
    over: "vm-ceiling",
    target: TARGETS.functionOverLineProtocolCeiling,
    max: MAX_OVER_CEILING,
    meaning: "the end-to-end target: what the function keeps of the most a line-protocol writer reaches here",
  },
  {
    name: "function → VictoriaMetrics ÷ VictoriaMetrics /api/v1/write",
    of: "function-vm",
    over: "vm-own",
    meaning: "same durability (in memory); at most about the ceiling's ratio below",
  },
  {
    name: "VictoriaMetrics fed the function's output ÷ VictoriaMetrics /api/v1/write",
    of: "vm-ceiling",
    over: "vm-own",
    meaning: "the most a receiver writing line protocol to VictoriaMetrics can reach against its own endpoint",
  },
  {
    name: "function → InfluxDB ÷ InfluxDB /api/v1/prom/write (own endpoint)",
    of: "function-influx",
    over: "influx-own",
    target: TARGETS.functionOverInfluxOwnEndpoint,
    meaning: "the target against InfluxDB 1.x, same durability: both answer after InfluxDB's WAL fsync",
  },
  {
    name: "function → InfluxDB ÷ InfluxDB fed the function's output (its line-protocol ceiling)",
    of: "function-influx",
    over: "influx-ceiling",
    max: MAX_OVER_CEILING,
    meaning: "what the function keeps of the most a line-protocol writer reaches into InfluxDB here",
  },
  {
    name: "function → InfluxDB ÷ the same function with its spool off",
    of: "function-influx",
    over: "function-influx-no-spool",
    target: TARGETS.spoolOverNoSpool,
    meaning: "what the spool costs while InfluxDB is up (it is only written while InfluxDB is away)",
  },
  {
    name: "InfluxDB fed the function's output ÷ InfluxDB /api/v1/prom/write",
    of: "influx-ceiling",
    over: "influx-own",
    meaning:
      "the most a receiver writing line protocol to InfluxDB can reach against its own endpoint: ≥ 2× needs this ≥ 2×",
  },
];

export function ratios(rows: Row[]): Ratio[] {
  const rate = (key: TargetKey) => {
    const row = rows.find((r) => r.key === key);
    return row?.ok ? row.samplesPerSecond : NaN;
  };
  if (rows.length === 0) return [];
  return RATIOS.map((r) => {
    const value = rate(r.of) / rate(r.over);
    const judged = r.target !== undefined || r.max !== undefined;
    const pass = (r.target === undefined || value >= r.target) && (r.max === undefined || value <= r.max);
    return { ...r, value, ...(judged ? { pass } : {}) };
  });
}

export interface DecodeConvert {
  warm: number;
  cold: number;
}

export interface Results {
  env: Record<string, string | number>;
  rows: Row[];
  ratios: Ratio[];
  decodeConvert: DecodeConvert;
}

const coldPass = (d: DecodeConvert) => d.cold >= TARGETS.coldDecodeConvert;
const fmt = (n: number, digits: number) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "—";
const bounds = (r: Ratio) =>
  [r.target === undefined ? "" : `≥ ${r.target}×`, r.max === undefined ? "" : `≤ ${r.max}× (above: noise)`]
    .filter(Boolean).join(", ");
const verdict = (pass: boolean | undefined) => pass === undefined ? "" : pass ? "PASS" : "FAIL";

export function printSummary({ rows, ratios, decodeConvert }: Results): void {
  if (rows.length > 0) {
    console.log(
      `\n## bench/remote-write.ts: ${SERIES} series per request, wrk -t${THREADS} -c${CONNECTIONS}, ${DURATION_S}s per row ` +
        `(two ${SEGMENT_S}s segments, A B … B A within a group, ${WARMUP_S}s warm-up), ${navigator.hardwareConcurrency} CPUs\n`,
    );
    console.log(
      "| group | path | durability (when it answers 2xx) | samples/s | requests | p50 ms | p99 ms | status |",
    );
    console.log("|---|---|---|---:|---:|---:|---:|---|");
    for (const r of rows) {
      console.log(
        `| ${r.group} | ${r.name} | ${r.durability} | ${fmt(r.samplesPerSecond, 0)} | ${r.requests} | ${
          fmt(r.latencyMs.p50, 1)
        } | ${fmt(r.latencyMs.p99, 1)} | ${r.ok ? "ok" : `FAILED: ${r.note}`} |`,
      );
    }
    console.log("\n| ratio (samples/s, this run) | value | target | result | meaning |");
    console.log("|---|---:|---:|---|---|");
    for (const r of ratios) {
      console.log(
        `| ${r.name} | ${fmt(r.value, 2)}× | ${bounds(r)} | ${verdict(r.pass)} | ${r.meaning} |`,
      );
    }
  }
  console.log(
    `\ndecode+convert, one core: cold (new series every request) ${fmt(decodeConvert.cold / 1e6, 2)} M samples/s ` +
      `(target ≥ ${TARGETS.coldDecodeConvert / 1e6}): ${
        verdict(coldPass(decodeConvert))
      }; warm (the same series again) ${fmt(decodeConvert.warm / 1e6, 2)} M samples/s`,
  );
}

/** What made the run fail: failed rows and missed targets (empty: exit status 0). */
export function failures({ rows, ratios, decodeConvert }: Results): string[] {
  return [
    ...(ONLY !== "decode" && rows.length === 0 ? ["no end-to-end rows ran"] : []),
    ...rows.filter((r) => !r.ok).map((r) => `row failed: ${r.name} (${r.note})`),
    ...ratios.filter((r) => r.pass === false).map((r) =>
      r.max !== undefined && r.value > r.max
        ? `noise: ${r.name} ${
          fmt(r.value, 2)
        }× > ${r.max}× (a function row above the same bytes sent straight to the same server)`
        : `target missed: ${r.name} ${fmt(r.value, 2)}× < ${r.target}×`
    ),
    ...(coldPass(decodeConvert) ? [] : [
      `target missed: cold decode+convert ${fmt(decodeConvert.cold / 1e6, 2)} < ${
        TARGETS.coldDecodeConvert / 1e6
      } M samples/s`,
    ]),
  ];
}

export function writeArtifact(results: Results, failed: string[]): void {
  const finite = (n: number) => Number.isFinite(n) ? n : null;
  mkdirSync(join(REPO_ROOT, ".artifacts"), { recursive: true });
  writeFileSync(
    join(REPO_ROOT, ".artifacts", "bench-remote-write.json"),
    JSON.stringify(
      {
        env: results.env,
        series: SERIES,
        connections: CONNECTIONS,
        threads: THREADS,
        duration_s: DURATION_S,
        segment_s: SEGMENT_S,
        warmup_s: WARMUP_S,
        only: ONLY || undefined,
        rows: results.rows,
        ratios: results.ratios.map((r) => ({ ...r, value: finite(r.value) })),
        decodeConvert: {
          ...results.decodeConvert,
          coldTarget: TARGETS.coldDecodeConvert,
          coldPass: coldPass(results.decodeConvert),
        },
        failures: failed,
        exitCode: failed.length === 0 ? 0 : 1,
      },
      null,
      2,
    ) + "\n",
  );
}
