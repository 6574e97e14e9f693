// What an upload row must have left on the server's disk, checked after the row (measure.ts), so a
// row cannot report speed the server got by not storing what it answered for.
//   The runtime's store: blobs/ab/<sha256>, one per distinct content. Every request of a row carries
//   bytes never sent before (a stamp, bench/wrk/files.lua), so the store must gain one blob per 2xx
//   answer. blobs/** is counted right before the row's pre-flight request and after its last wrk run
//   (warm-up included: nothing else writes to that store between them). wrk counts the answers it got;
//   a wrk run ends with up to CONNECTIONS requests in flight that it never counts but the runtime may
//   still store and answer, so the runtime's own count of its 2xx answers (/metrics,
//   tarsd_function_requests_total) is read at the same two moments: the blobs gained must equal it
//   exactly, and it must lie between wrk's count and that plus CONNECTIONS per wrk run.
//   The duplicate-path row sends the same bytes every time: its store must gain one blob in all.
//   A peer writes each upload under its name (the seed, nginx's DAV PUT, dufs), so its files cannot
//   be counted. After its last wrk run (once the file holds still) the file is described: a whole
//   upload of this row (the payload's size, a stamp this row sent, the payload's other bytes), or not,
//   which a peer that writes in place can leave when wrk stops with requests in flight (said, not
//   failed: no answer was given for them). Then one more request is sent, with a stamp of its own,
//   and once it is answered 2xx the file must be exactly its bytes.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fmt } from "./format.ts";

/** The runtime's store (blobs/) and where it counts its 2xx answers: /metrics, for a method and route. */
export interface RuntimeStore {
  blobsDir: string;
  expect: "a new blob per answer" | "one blob in all";
  answers: { metricsUrl: string; method: string; route: string };
}

/** A peer's file, written by name: what it must hold after the row. */
export interface PeerFile {
  file: string;
  payload: Uint8Array;
  /** Where the stamp goes in the payload (the upload mark). */
  mark: string;
}

export type Written = RuntimeStore | PeerFile;

export interface StoreCheck {
  /** What was checked and found, in words. */
  checked: string;
  /** Runtime rows: 2xx/3xx answers wrk got (pre-flight included), the 2xx the runtime counted, blobs gained. */
  answeredSeenByWrk?: number;
  answeredByServer?: number;
  blobsGained?: number;
  wrkRuns?: number;
  problem?: string;
}

/** The runtime's store and its count of 2xx answers at one moment. */
export interface StoreState {
  blobs: number;
  answers: number;
}

/** Files under blobs/ (blobs/ab/<sha256>). */
export function countBlobs(blobsDir: string): number {
  let n = 0;
  for (const prefix of readdirSync(blobsDir, { withFileTypes: true })) {
    if (!prefix.isDirectory()) continue;
    for (const entry of readdirSync(join(blobsDir, prefix.name), { withFileTypes: true })) if (entry.isFile()) n++;
  }
  return n;
}

/** The sum of tarsd_function_requests_total over the route's 2xx statuses. */
async function serverAnswers({ metricsUrl, method, route }: { metricsUrl: string; method: string; route: string }) {
  const res = await fetch(metricsUrl);
  if (res.status !== 200) throw new Error(`${metricsUrl}: HTTP ${res.status}`);
  let n = 0;
  for (const line of (await res.text()).split("\n")) {
    if (
      line.startsWith("tarsd_function_requests_total{") && line.includes(`method="${method}"`) &&
      line.includes(`route="${route}"`) && /status="2\d\d"/.test(line)
    ) n += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return n;
}

export async function storeState(written: RuntimeStore): Promise<StoreState> {
  return { blobs: countBlobs(written.blobsDir), answers: await serverAnswers(written.answers) };
}

/**
 * The state once it holds still over three reads 100 ms apart (at most 5 s): requests a wrk run left in
 * flight may still be landing.
 */
export async function settledStoreState(written: RuntimeStore): Promise<StoreState> {
  let last = await storeState(written);
  let still = 0;
  for (let i = 0; i < 50 && still < 2; i++) {
    await Bun.sleep(100);
    const now = await storeState(written);
    still = now.blobs === last.blobs && now.answers === last.answers ? still + 1 : 0;
    last = now;
  }
  return last;
}

/** The runtime's store over a row: blobs gained against 2xx answers, the runtime's count and wrk's. */
export function checkRuntimeStore(
  written: RuntimeStore,
  tally: { answered: number; wrkRuns: number; start?: StoreState; end?: StoreState; cutOffPerRun: number },
): StoreCheck {
  const { answered, wrkRuns, start, end, cutOffPerRun } = tally;
  if (!start || !end) return { checked: "", problem: "the store was not counted" };
  const blobsGained = end.blobs - start.blobs;
  const served = end.answers - start.answers;
  const counts = { answeredSeenByWrk: answered, answeredByServer: served, blobsGained, wrkRuns };
  const problems: string[] = [];
  if (served < answered || served > answered + cutOffPerRun * wrkRuns) {
    problems.push(
      `the runtime counted ${served} 2xx answers where wrk got ${answered} (and may cut off ${cutOffPerRun} a run)`,
    );
  }
  const said = `+${fmt(blobsGained, 0)} blob${blobsGained === 1 ? "" : "s"} for ${
    fmt(served, 0)
  } 2xx answers (the runtime's count; wrk got ${fmt(answered, 0)} of them over the pre-flight and ${wrkRuns} runs)`;
  if (written.expect === "one blob in all") {
    if (blobsGained !== 1) problems.push(`store gained ${blobsGained} blobs for identical bytes, not 1`);
    return { checked: `${said}: identical bytes stored once`, ...counts, ...problem(problems) };
  }
  if (blobsGained !== served) {
    problems.push(
      `store gained ${blobsGained} blobs for ${served} 2xx answers${
        blobsGained < served ? `: ${served - blobsGained} stored no new bytes` : ""
      }`,
    );
  }
  return { checked: `${said}: one new blob per answer`, ...counts, ...problem(problems) };
}

/** A peer's file once its size and mtime hold still over three reads 100 ms apart (at most 5 s). */
export async function settledFile(file: string): Promise<void> {
  const state = () => {
    const stat = statSync(file, { throwIfNoEntry: false });
    return stat ? `${stat.size} ${stat.mtimeMs}` : "missing";
  };
  let last = state();
  let still = 0;
  for (let i = 0; i < 50 && still < 2; i++) {
    await Bun.sleep(100);
    const now = state();
    still = now === last ? still + 1 : 0;
    last = now;
  }
}

/**
 * A peer's file: `afterWrk` is what it held after the last wrk run (undefined: a whole upload of this
 * row), `closing` the stamp of the request sent after that and answered 2xx, whose bytes it must hold.
 */
export function checkPeerFile(written: PeerFile, afterWrk: string | undefined, closing: string): StoreCheck {
  const { file, payload, mark } = written;
  const name = file.slice(file.lastIndexOf("/") + 1);
  const at = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).indexOf(mark);
  const expected = Buffer.from(payload);
  expected.write(closing, at, "latin1");
  const found = fileProblem(file, (bytes) => bytes.equals(expected) ? undefined : "not the bytes of the last upload");
  const after = afterWrk === undefined
    ? "a whole upload of this row after wrk stopped"
    : `after wrk stopped with requests in flight: ${afterWrk}`;
  return {
    checked: `${name}: ${after}; the last upload's ${fmt(payload.byteLength, 0)} bytes after one more request`,
    ...(found ? { problem: `${name}, after the request sent after wrk: ${found}` } : {}),
  };
}

/** What the peer's file holds after the wrk runs, when it is not a whole upload of this row. */
export function peerFileAfterWrk(written: PeerFile, runIds: Set<number>): string | undefined {
  const { file, payload, mark } = written;
  const at = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).indexOf(mark);
  return fileProblem(file, (bytes) => {
    const stamp = bytes.subarray(at, at + mark.length).toString("latin1");
    if (!/^[0-9a-f]{16}$/.test(stamp) || !runIds.has(parseInt(stamp.slice(0, 6), 16))) {
      return `${JSON.stringify(stamp)} where a stamp of this row belongs`;
    }
    const intact = bytes.subarray(0, at).equals(payload.subarray(0, at)) &&
      bytes.subarray(at + mark.length).equals(payload.subarray(at + mark.length));
    return intact ? undefined : "bytes other than the stamp differ from the payload";
  }, payload.byteLength);
}

function problem(problems: string[]): { problem?: string } {
  return problems.length > 0 ? { problem: problems.join("; ") } : {};
}

function fileProblem(
  file: string,
  check: (bytes: Buffer) => string | undefined,
  size?: number,
): string | undefined {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) return "missing";
  if (size !== undefined && stat.size !== size) return `${fmt(stat.size, 0)} bytes, not ${fmt(size, 0)}`;
  return check(readFileSync(file));
}
