// Receiving a body: streamed into a private temp file while its sha256 is computed, before any name
// can see it. Split from the commit (file-store.ts) so a request carrying several files stores all or
// none: each is staged first, then all are committed together.
import { rm } from "node:fs/promises";
import { BodyHash } from "./body-hash.ts";
import { storageErrors } from "./disk-full.ts";
import type { OpenFile } from "./open-file.ts";
import { createStagingWriter } from "./staging-writer.ts";

/** Bytes received in tmp/, not yet a blob. */
export interface Staged {
  tmp: string;
  sha256: string;
  size: number;
  /**
   * The staged file, still open and not yet fsynced (`stageBody` leaves it so): `adopt` fsyncs it only
   * when it becomes a new blob. When the same bytes are stored already, that blob is durable and the
   * staged copy is only thrown away: no fsync is waited for. Absent: the bytes are durable already.
   */
  unsynced?: OpenFile;
  /** The staged file being closed (set once `adopt` or `discard` starts closing it). */
  closing?: Promise<void>;
}

/** Staged bytes and the name a commit is to point at them. */
export interface StagedFile {
  name: string;
  staged: Staged;
}

/**
 * Streams `body` into the new file `tmp` (hashing as it goes), left open for `adopt` to fsync. On
 * failure the file is gone. Each chunk's write is in flight while the next chunk is read and while
 * the hash runs: the disk's wait overlaps the rest. So a chunk is read after the body has handed on
 * the next one: `body` must give each chunk memory of its own.
 */
export async function stageBody(tmp: string, body: AsyncIterable<Uint8Array>): Promise<Staged> {
  const hash = new BodyHash();
  let size = 0;
  const writer = await storageErrors(() => createStagingWriter(tmp));
  let writing: Promise<void> | undefined;
  let digest: Promise<string> | undefined;
  try {
    for await (const chunk of body) {
      size += chunk.byteLength;
      await writing; // one write at a time: the writer gathers into one buffer
      writing = storageErrors(() => writer.write(chunk));
      hash.add(chunk);
    }
    digest = hash.hex();
    await writing;
    await storageErrors(() => writer.finish());
    return { tmp, sha256: await digest, size, unsynced: writer.handle };
  } catch (err) {
    // The buffer goes back to the pool only once no write reads from it.
    await Promise.allSettled([writing, digest]);
    await writer.handle.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  } finally {
    writer.release();
  }
}

/** Starts closing the staged file; `closing` settles when it is closed (removing it waits for that). */
export function closeStaged(staged: Staged): void {
  const handle = staged.unsynced;
  staged.unsynced = undefined;
  if (handle) staged.closing = handle.close().catch(() => {});
}

/** Throws the staged bytes away (a request that failed, or a commit that was undone). */
export async function discardStaged(staged: Staged): Promise<void> {
  closeStaged(staged);
  await staged.closing;
  await rm(staged.tmp, { force: true });
}
