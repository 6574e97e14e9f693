// Load generation: one row per server, measured with wrk after a pre-flight request, servers that are
// compared with each other in alternating segments; after an upload row, what the server wrote is
// checked (written.ts).
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { wrk, type WrkResult } from "../../harness/wrk.ts";
import { CONNECTIONS, MiB, SEGMENT_S, type Size, THREADS, WARMUP_S } from "./config.ts";
import { fmt } from "./format.ts";
import {
  checkPeerFile,
  checkRuntimeStore,
  type PeerFile,
  peerFileAfterWrk,
  settledFile,
  settledStoreState,
  type StoreCheck,
  type StoreState,
  storeState,
  type Written,
} from "./written.ts";

export interface Row {
  case: string;
  size: string;
  server: string;
  /** Whether the server had the bytes on disk (fsync) before answering; what it does for a read. */
  durability: string;
  ok: boolean;
  note?: string;
  requestsPerSec: number;
  mibPerSec: number;
  latencyMs: { p50: number; p99: number };
  errors: Record<string, number>;
  requests: number;
  /** Upload rows: what was checked on the server's disk afterwards (written.ts). */
  stored?: StoreCheck;
  /** Set on runtime rows that have peers: runtime req/s over each peer's. */
  ratio?: Record<string, number>;
}

export interface Load {
  case: string;
  size: Size;
  server: string;
  durability: string;
  url: string;
  method?: "GET" | "PUT" | "POST";
  bodyFile?: string;
  contentType?: string;
  /** Bytes each response must at least carry (GET / download): catches short or error bodies. */
  minResponseBytes?: number;
  /** Uploads: 16 bytes of the body replaced in every request by a stamp no other request carries. */
  uniqueMark?: string;
  /** GET over many files: a file of paths, one a line, sent round-robin (bench/wrk/files.lua). */
  pathsFile?: string;
  /** Uploads: what the server must have written (checked after the row). */
  written?: Written;
}

// Run ids: one per wrk invocation and per pre-flight request, never the same twice in this process
// (2^24 of them, from a random start), so a stamp (run id, thread, counter) is never sent twice.
const RUN_ID_SPACE = 0x1000000;
const RUN_ID_BASE = randomInt(RUN_ID_SPACE);
let runIdsIssued = 0;

function nextRunId(): number {
  if (runIdsIssued >= RUN_ID_SPACE) throw new Error("bench: out of run ids (2^24 wrk runs in one process)");
  return (RUN_ID_BASE + runIdsIssued++) % RUN_ID_SPACE;
}

/** The 16 bytes that replace the upload mark: run id, thread (0: the pre-flight), counter, in hex. */
export function stamp(runId: number, thread: number, counter: number): string {
  const hex = (n: number, digits: number) => n.toString(16).padStart(digits, "0");
  return hex(runId, 6) + hex(thread, 2) + hex(counter, 8);
}

/** What a row did, for its store check: 2xx/3xx answers wrk got, wrk runs, run ids, the runtime's store. */
interface Tally {
  answered: number;
  wrkRuns: number;
  runIds: Set<number>;
  /** The runtime's store right before the pre-flight and after the last wrk run. */
  start?: StoreState;
  end?: StoreState;
}

/** The runtime's store when the load writes to it. */
const storeOf = (load: Load) => load.written && "blobsDir" in load.written ? load.written : undefined;
/** The peer's file when the load writes one. */
const fileOf = (load: Load): PeerFile | undefined => load.written && "file" in load.written ? load.written : undefined;

async function wrkLoad(load: Load, seconds: number, tally: Tally): Promise<WrkResult> {
  const runId = nextRunId();
  tally.runIds.add(runId);
  const result = await wrk({
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
      BENCH_RUN_ID: String(runId),
      BENCH_PATHS_FILE: load.pathsFile ?? "",
      BENCH_THREADS: String(THREADS),
    },
  });
  // wrk's errors.status counts answers ≥ 400; every other completed request was answered 2xx/3xx.
  tally.answered += result.requests - (result.errors.status ?? 0);
  tally.wrkRuns++;
  return result;
}

/**
 * One request with the method/body/headers wrk will send, its own stamp in place of the mark (run id
 * new, thread 0): the pre-flight, and after a peer's wrk runs the request whose bytes its file must
 * then hold. Its status must be 2xx; returns the failure, or the stamp it sent.
 */
async function once(load: Load, tally: Tally, what: string): Promise<{ failure?: string; stamp?: string }> {
  let body: Uint8Array<ArrayBuffer> | undefined;
  let sent: string | undefined;
  if (load.bodyFile) {
    const bytes = readFileSync(load.bodyFile);
    if (load.uniqueMark) {
      const runId = nextRunId();
      tally.runIds.add(runId);
      const at = bytes.indexOf(load.uniqueMark);
      if (at < 0) throw new Error(`the upload mark is not in ${load.bodyFile}`);
      sent = stamp(runId, 0, 0);
      bytes.write(sent, at, "latin1");
    }
    body = new Uint8Array(bytes);
  }
  const res = await fetch(load.pathsFile ? new URL(firstPath(load.pathsFile), load.url) : load.url, {
    method: load.method ?? "GET",
    body,
    headers: load.contentType ? { "content-type": load.contentType } : {},
  });
  const answer = await res.arrayBuffer();
  if (res.status < 200 || res.status > 299) {
    return { failure: `${what} ${res.status}: ${new TextDecoder().decode(answer.slice(0, 300))}` };
  }
  tally.answered++;
  if (load.minResponseBytes && answer.byteLength !== load.minResponseBytes) {
    return { failure: `${what} body ${answer.byteLength} bytes` };
  }
  return { stamp: sent };
}

async function preflight(load: Load, tally: Tally): Promise<string | undefined> {
  const store = storeOf(load);
  if (store) tally.start = await storeState(store);
  return (await once(load, tally, "pre-flight")).failure;
}

/** After the row's wrk runs: the runtime's store counted, or the peer's file looked at and written once more. */
async function checkStored(load: Load, tally: Tally): Promise<StoreCheck | undefined> {
  const store = storeOf(load);
  if (store) {
    tally.end = await settledStoreState(store);
    return checkRuntimeStore(store, { ...tally, cutOffPerRun: CONNECTIONS });
  }
  const file = fileOf(load);
  if (!file) return undefined;
  await settledFile(file.file);
  const afterWrk = peerFileAfterWrk(file, tally.runIds);
  const closing = await once(load, tally, "request after wrk").catch((err) => ({
    failure: `request after wrk: ${String(err)}`,
    stamp: undefined,
  }));
  if (closing.failure || !closing.stamp) return { checked: "", problem: closing.failure ?? "no stamp sent" };
  return checkPeerFile(file, afterWrk, closing.stamp);
}

function firstPath(pathsFile: string): string {
  return readFileSync(pathsFile, "utf8").split("\n", 1)[0]!;
}

/**
 * Measures servers that are compared with each other in alternating segments: each gets a warm-up,
 * then wrk drives them in the order A B … B A, SEGMENT_S seconds a segment, and each row adds up
 * its two segments. This machine's speed drifts from minute to minute; measured one after the other,
 * the later server would get a different machine than the earlier one, where a palindromic order gives
 * each the same average moment (a linear drift cancels out). p50 is the segments' request-weighted
 * mean of medians, p99 the worse of the two. An upload row's store check counts every request the
 * server was sent: pre-flight, warm-up and segments.
 */
export async function measureTogether(loads: Load[]): Promise<Row[]> {
  const rows = new Map<Load, Row>();
  const tallies = new Map<Load, Tally>();
  const results = new Map<Load, WrkResult[]>();
  for (const load of loads) {
    const tally: Tally = { answered: 0, wrkRuns: 0, runIds: new Set() };
    tallies.set(load, tally);
    const failed = await preflight(load, tally).catch((err) => `pre-flight error: ${String(err)}`);
    rows.set(load, {
      case: load.case,
      size: load.size.label,
      server: load.server,
      durability: load.durability,
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
  for (const load of running) if (WARMUP_S > 0) await wrkLoad(load, WARMUP_S, tallies.get(load)!);
  for (const load of [...running, ...[...running].reverse()]) {
    results.get(load)!.push(await wrkLoad(load, SEGMENT_S, tallies.get(load)!));
  }
  // Only each load's own requests write where it is checked: one look after all segments covers them.
  const stored = new Map<Load, StoreCheck | undefined>();
  for (const load of running) stored.set(load, await checkStored(load, tallies.get(load)!));
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
    row.stored = stored.get(load);
    if (row.stored?.problem) problems.push(row.stored.problem);
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
