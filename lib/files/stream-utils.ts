// Reading files in chunks: hashing one that may be many GiB, and streaming a byte range of a blob
// where Bun.file is not there to do it (Deno).
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";

const READ_CHUNK_BYTES = 1024 * 1024;

/** The sha256 of an open file's bytes, read in chunks: a multi-GiB file is never in memory. */
export async function sha256Of(handle: FileHandle): Promise<string> {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  for (let position = 0;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, position);
    if (bytesRead === 0) return hash.digest("hex");
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

/** Bytes [start, end] of the file at `path`, as a stream (where Bun.file is not there to do it). */
export async function openStream(path: string, start: number, end: number): Promise<ReadableStream<Uint8Array>> {
  const handle = await open(path, constants.O_RDONLY);
  return fileStream(handle, start, end, () => handle.close().catch(() => {}));
}

/** Pull-based stream over an open handle: reads only as fast as the client takes bytes. */
function fileStream(
  handle: FileHandle,
  start: number,
  end: number,
  close: () => Promise<void>,
): ReadableStream<Uint8Array> {
  let position = start;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const remaining = end - position + 1;
      if (remaining <= 0) {
        controller.close();
        await close();
        return;
      }
      const buffer = new Uint8Array(Math.min(READ_CHUNK_BYTES, remaining));
      try {
        const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, position);
        if (bytesRead === 0) throw new Error("file shrank while being read");
        position += bytesRead;
        controller.enqueue(bytesRead === buffer.byteLength ? buffer : buffer.subarray(0, bytesRead));
        if (position > end) {
          controller.close();
          await close();
        }
      } catch (err) {
        controller.error(err);
        await close();
      }
    },
    async cancel() {
      await close();
    },
  });
}
