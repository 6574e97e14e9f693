// Load generation: every target of a group gets a pre-flight request (one body, which must be answered
// 2xx) and a warm-up, then wrk drives the group's targets in alternating segments, A B C C B A, and each
// row adds up its two segments. This machine's speed drifts from minute to minute; measured one after
// the other, a later row would get a different machine than an earlier one, where a palindromic order
// gives each row the same average moment (a linear drift cancels out). The same pattern as
// measureTogether in bench/files/measure.ts, whose loads are file requests (its wrk script, stamps and
// store checks); these are remote-write bodies. p50 is the segments' request-weighted mean of medians,
// p99 the worse of the two.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { wrk, type WrkResult } from "../../harness/wrk.ts";
import { type BodyKind, HEADERS } from "./bodies.ts";
import { BODIES, CONNECTIONS, SEGMENT_S, SERIES, THREADS, WARMUP_S } from "./config.ts";
import type { Target } from "./servers.ts";

export interface Row extends Target {
  ok: boolean;
  note?: string;
  samplesPerSecond: number;
  requests: number;
  seconds: number;
  /** Each segment's samples/s, in the order they ran. */
  segments: number[];
  latencyMs: { p50: number; p99: number };
  /** wrk's socket errors, timeouts and non-2xx/3xx answers, by kind. */
  errors: Record<string, number>;
}

async function preflight(target: Target, dirs: Record<BodyKind, string>): Promise<string | undefined> {
  try {
    const res = await fetch(target.url, {
      method: "POST",
      body: readFileSync(join(dirs[target.body], "body-0.bin")),
      headers: HEADERS[target.body],
    });
    const text = await res.text();
    return res.ok ? undefined : `pre-flight ${res.status}: ${text.slice(0, 300)}`;
  } catch (err) {
    return `pre-flight error: ${String(err)}`;
  }
}

function load(target: Target, seconds: number, dirs: Record<BodyKind, string>): Promise<WrkResult> {
  return wrk({
    url: target.url,
    script: "remote-write",
    seconds,
    connections: CONNECTIONS,
    threads: THREADS,
    timeoutSeconds: 10,
    env: { BENCH_BODY_DIR: dirs[target.body], BENCH_BODY_COUNT: String(BODIES), BENCH_BODY_KIND: target.body },
  });
}

const samplesPerSecond = (r: WrkResult) => (r.requests * SERIES) / (r.duration_us / 1e6);

export async function measureTogether(targets: Target[], dirs: Record<BodyKind, string>): Promise<Row[]> {
  const failures = new Map<Target, string>();
  for (const target of targets) {
    const failed = await preflight(target, dirs);
    if (failed) failures.set(target, failed);
  }
  const running = targets.filter((t) => !failures.has(t));
  const results = new Map<Target, WrkResult[]>(running.map((t) => [t, []]));
  for (const target of running) if (WARMUP_S > 0) await load(target, WARMUP_S, dirs);
  for (const target of [...running, ...[...running].reverse()]) {
    results.get(target)!.push(await load(target, SEGMENT_S, dirs));
  }
  return targets.map((target) => {
    const segments = results.get(target) ?? [];
    const sum = (pick: (r: WrkResult) => number) => segments.reduce((total, r) => total + pick(r), 0);
    const requests = sum((r) => r.requests);
    const seconds = sum((r) => r.duration_us) / 1e6;
    const errors: Record<string, number> = {};
    for (const r of segments) {
      for (const [kind, n] of Object.entries(r.errors)) if (n > 0) errors[kind] = (errors[kind] ?? 0) + n;
    }
    const problems = failures.has(target) ? [failures.get(target)!] : [];
    problems.push(
      ...Object.entries(errors).map(([kind, n]) => `${n} ${kind === "status" ? "non-2xx/3xx" : kind} errors`),
    );
    if (!failures.has(target) && requests === 0) problems.push("no requests completed");
    const row: Row = {
      ...target,
      ok: problems.length === 0,
      ...(problems.length > 0 ? { note: problems.join("; ") } : {}),
      samplesPerSecond: seconds > 0 ? (requests * SERIES) / seconds : 0,
      requests,
      seconds,
      segments: segments.map(samplesPerSecond),
      latencyMs: {
        p50: requests > 0 ? sum((r) => r.latency_us.p50 * r.requests) / requests / 1000 : 0,
        p99: segments.length > 0 ? Math.max(...segments.map((r) => r.latency_us.p99)) / 1000 : 0,
      },
      errors,
    };
    console.log(
      `  ${`${row.name}`.padEnd(88)} ${Math.round(row.samplesPerSecond).toLocaleString("en").padStart(10)} samples/s` +
        (row.ok ? "" : `  FAILED (${row.note})`),
    );
    return row;
  });
}
