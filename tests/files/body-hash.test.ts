// BodyHash gives the sha256 of everything added, whichever way it computes it: WebCrypto for a body of
// one chunk, node:crypto incrementally for more, node:crypto for a view of shared memory.
import { expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { BodyHash } from "../../lib/files/body-hash.ts";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function hashOf(chunks: Uint8Array[]): Promise<string> {
  const hash = new BodyHash();
  for (const chunk of chunks) hash.add(chunk);
  return await hash.hex();
}

test("no chunks: the digest of no bytes", async () => {
  expect(await hashOf([])).toBe(sha256(new Uint8Array()));
});

test("one chunk, empty or not, as a view into a larger buffer too", async () => {
  const bytes = new Uint8Array(randomBytes(1024 * 1024 + 7));
  expect(await hashOf([new Uint8Array()])).toBe(sha256(new Uint8Array()));
  expect(await hashOf([bytes])).toBe(sha256(bytes));
  expect(await hashOf([bytes.subarray(5, 1000)])).toBe(sha256(bytes.subarray(5, 1000)));
});

test("many chunks of any sizes, empty ones among them", async () => {
  const bytes = new Uint8Array(randomBytes(300_001));
  const cuts = [0, 0, 1, 4096, 4096, 100_000, 299_999, 300_001];
  const chunks = cuts.slice(1).map((end, i) => bytes.subarray(cuts[i], end));
  expect(await hashOf(chunks)).toBe(sha256(bytes));
  expect(await hashOf([bytes.subarray(0, 1), bytes.subarray(1)])).toBe(sha256(bytes));
});

test("a view of shared memory (WebCrypto refuses those)", async () => {
  const shared = new Uint8Array(new SharedArrayBuffer(5000));
  shared.set(randomBytes(5000));
  expect(await hashOf([shared])).toBe(sha256(new Uint8Array(shared)));
});
