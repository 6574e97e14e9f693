// Part 1: the function's decode+convert on one core (this process), writes disabled, samples/s.
import { toLineProtocol } from "../../lib/remote-write/convert.ts";
import { decompress, parseMessage } from "../../lib/remote-write/decode.ts";
import { ByteWriter } from "../../lib/remote-write/byte-writer.ts";
import { coldBodies } from "./bodies.ts";

// One reused body buffer for every round, as a running APP 2/3 has it.
const out = new ByteWriter(256 * 1024);

function decodeConvertRate(bodies: Uint8Array[], rounds: number): number {
  let samples = 0;
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    for (const body of bodies) {
      const series = parseMessage(decompress(body, 64 << 20), 1);
      samples += toLineProtocol(series, { duplicateLabels: "skip" }, out).written;
    }
  }
  return samples / ((performance.now() - started) / 1000);
}

/**
 * warm: the same series again with new samples (what Prometheus sends every interval); cold: series
 * never seen before in every request (series churn), 250 bodies converted once each.
 */
export function measureDecodeConvert(warmBodies: Uint8Array[]): { warm: number; cold: number } {
  const cold = coldBodies(250);
  decodeConvertRate(warmBodies, 10); // JIT warm-up
  Bun.gc(true); // measure the receiver, not the collection of the request generator's garbage
  const warm = decodeConvertRate(warmBodies, 60);
  Bun.gc(true);
  return { warm, cold: decodeConvertRate(cold, 1) };
}
