// The request bodies: SERIES node-exporter-like series per request, snappy-compressed remote-write 1.0
// as Prometheus sends them, and the same bodies converted to line protocol by the function's own code
// (what the line-protocol ceiling rows are fed). wrk reads both from files (bench/wrk/remote-write.lua).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toLineProtocol } from "../../lib/remote-write/convert.ts";
import { decompress, parseMessage } from "../../lib/remote-write/decode.ts";
import { compress, encodeV1, type TestSeries } from "../../harness/remote-write-requests.ts";
import { BODIES, SERIES } from "./config.ts";

export type BodyKind = "remote-write" | "line-protocol";

function batch(requestIndex: number, seriesTag: string): TestSeries[] {
  const at = 1_780_000_000_000 + requestIndex * 15_000;
  return Array.from({ length: SERIES }, (_, i) => ({
    labels: [
      ["__name__", `node_metric_${i % 50}`],
      ["cpu", String(i % 16)],
      ["device", `sd${String.fromCharCode(97 + (i % 4))}`],
      ["instance", `vm${i % 10}.example.internal:9100`],
      ["job", "node"],
      ["mode", ["idle", "user", "system", "iowait"][i % 4]!],
      ["node", `swarm-node-${i % 10}`],
      ["series", `${seriesTag}${i}`],
    ],
    samples: [{ value: (requestIndex * 7919 + i * 104729) / 997, timestamp: at }],
  }));
}

/** The same SERIES series in every body, each body one scrape interval later (what a shard sends every interval). */
export const warmBodies = (): Uint8Array[] =>
  Array.from({ length: BODIES }, (_, i) => compress(encodeV1(batch(i, "s"))));

/** SERIES series never seen before in every body (series churn). */
export const coldBodies = (count: number): Uint8Array[] =>
  Array.from({ length: count }, (_, i) => compress(encodeV1(batch(i, `cold${i}-`))));

/** The function's own conversion of a remote-write body. */
export function lineProtocolOf(body: Uint8Array): Uint8Array {
  return toLineProtocol(parseMessage(decompress(body, 64 << 20), 1), { duplicateLabels: "skip" }).body;
}

/** Writes `<dir>/<kind>/body-<i>.bin` for both kinds; returns the two directories. */
export function writeBodyFiles(dir: string, bodies: Uint8Array[]): Record<BodyKind, string> {
  const dirs = { "remote-write": join(dir, "remote-write"), "line-protocol": join(dir, "line-protocol") };
  for (const [kind, kindDir] of Object.entries(dirs)) {
    mkdirSync(kindDir, { recursive: true });
    bodies.forEach((body, i) =>
      writeFileSync(join(kindDir, `body-${i}.bin`), kind === "line-protocol" ? lineProtocolOf(body) : body)
    );
  }
  return dirs;
}

/** The headers wrk sends with each kind (bench/wrk/remote-write.lua), for the pre-flight request. */
export const HEADERS: Record<BodyKind, Record<string, string>> = {
  "remote-write": {
    "content-type": "application/x-protobuf",
    "content-encoding": "snappy",
    "x-prometheus-remote-write-version": "0.1.0",
    "user-agent": "tarsd-bench",
  },
  "line-protocol": { "content-type": "text/plain; charset=utf-8", "user-agent": "tarsd-bench" },
};
