// The staged file holds exactly the bytes written, whatever their size and however they are cut into
// chunks, both through O_DIRECT (where the filesystem takes it: it does here, on the repository's
// temp directory) and through the page cache.
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { closeSync, constants, openSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../harness/runtime-process.ts";
import { createStagingWriter, WRITE_CHUNK_BYTES } from "../../lib/files/staging-writer.ts";

const dir = tempDir("tarsd-staging-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KiB = 1024;
const SIZES = [
  0,
  1,
  511,
  4 * KiB - 1,
  4 * KiB,
  4 * KiB + 1,
  WRITE_CHUNK_BYTES - 1,
  WRITE_CHUNK_BYTES,
  WRITE_CHUNK_BYTES + 1,
  3 * WRITE_CHUNK_BYTES + 12_345,
];
const CUTS: [string, (bytes: Uint8Array) => Uint8Array[]][] = [
  ["one chunk", (bytes) => [bytes]],
  ["1000-byte chunks", (bytes) => cut(bytes, () => 1000)],
  ["300 KiB chunks", (bytes) => cut(bytes, () => 300 * KiB)],
  ["random chunks", (bytes) => cut(bytes, () => 1 + Math.floor(Math.random() * 200 * KiB))],
];

function cut(bytes: Uint8Array, next: () => number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength;) {
    const end = Math.min(bytes.byteLength, at + next());
    chunks.push(bytes.subarray(at, end));
    at = end;
  }
  return chunks;
}

/** The open flags of a descriptor of this process, as the kernel reports them (octal). */
function openFlags(fd: number): number {
  const line = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").split("\n").find((l) => l.startsWith("flags:"));
  return parseInt(line!.split(/\s+/)[1]!, 8);
}

function kernelTakesDirect(): boolean {
  const probe = join(dir, "probe");
  try {
    closeSync(openSync(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT));
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { force: true });
  }
}

let file = 0;
for (const direct of [true, false]) {
  describe(direct ? "direct writes" : "page-cache writes", () => {
    test("the temp directory takes O_DIRECT, and the writer uses it only when asked", async () => {
      expect(kernelTakesDirect()).toBe(true); // else the direct cases below would not cover direct writes
      const path = join(dir, `flags-${direct}`);
      const writer = await createStagingWriter(path, { direct });
      expect(writer.direct).toBe(direct);
      expect(readlinkSync(`/proc/self/fd/${writer.handle.fd}`)).toBe(path);
      expect((openFlags(writer.handle.fd) & constants.O_DIRECT) !== 0).toBe(direct);
      writer.release();
      await writer.handle.close();
    });

    for (const [label, chunksOf] of CUTS) {
      test(`every size comes out byte for byte: ${label}`, async () => {
        for (const size of SIZES) {
          const bytes = new Uint8Array(randomBytes(size));
          const path = join(dir, `f${file++}`);
          const writer = await createStagingWriter(path, { direct });
          for (const chunk of chunksOf(bytes)) {
            const copy = chunk.slice();
            await writer.write(copy);
            copy.fill(0); // the writer is done with a chunk once write resolves
          }
          await writer.finish();
          writer.release();
          await writer.handle.close();
          const written = readFileSync(path);
          expect(written.byteLength).toBe(size);
          expect(Buffer.compare(written, bytes)).toBe(0);
          rmSync(path);
        }
      });
    }
  });
}

test("a second upload reuses the first one's buffer and gets none of its bytes", async () => {
  const first = join(dir, "first");
  const second = join(dir, "second");
  let writer = await createStagingWriter(first);
  await writer.write(new Uint8Array(WRITE_CHUNK_BYTES - 10).fill(0xaa));
  await writer.finish();
  writer.release();
  await writer.handle.close();
  writer = await createStagingWriter(second);
  await writer.write(new Uint8Array(10).fill(0x55));
  await writer.finish();
  writer.release();
  await writer.handle.close();
  expect([...readFileSync(second)]).toEqual(new Array(10).fill(0x55));
});
