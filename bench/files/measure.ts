// Load generation: one row per server, measured with wrk after a pre-flight request, servers that are
// compared with each other in alternating segments.
import { wrk, type WrkResult } from "../../harness/wrk.ts";
import { CONNECTIONS, MiB, SEGMENT_S, type Size, THREADS, WARMUP_S } from "./config.ts";
import { fmt } from "./format.ts";

export interface Row {
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

export interface Load {
  case: string;
  size: Size;
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
export async function measureTogether(loads: Load[]): Promise<Row[]> {
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
