// The spool directory: segments named `<created ms>-<writer>.seg`, the name ordering them by age and
// saying when the oldest data in each was accepted; `replay.lock`, held by the one replayer. A segment
// is its writer's while the writer holds a lock on it (file-lock.ts) and the replayer's once it does
// not: sealed, or left by a writer that died. Names never change: a listing taken while writers seal
// segments sees every one of them (a rename could be missed by a concurrent readdir).
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

export const REPLAY_LOCK = "replay.lock";

export interface Segment {
  name: string;
  path: string;
  createdMs: number;
}

const SEGMENT = /^(\d{15})-([0-9a-z]+)\.seg$/;

export function segmentName(createdMs: number, writer: string): string {
  return `${String(createdMs).padStart(15, "0")}-${writer}.seg`;
}

/** Every segment in `dir`, oldest first; a missing directory holds none. */
export async function listSegments(dir: string): Promise<Segment[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
  const out: Segment[] = [];
  for (const name of names) {
    const m = SEGMENT.exec(name);
    if (m) out.push({ name, path: join(dir, name), createdMs: Number(m[1]) });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** What the spool holds now: its bytes on disk and how old its oldest segment is. */
export async function spoolUsage(dir: string): Promise<{ bytes: number; segments: number; oldestMs?: number }> {
  let bytes = 0;
  const segments = await listSegments(dir);
  for (const segment of segments) {
    bytes += await stat(segment.path).then((s) => s.size, () => 0); // replayed and removed meanwhile
  }
  return { bytes, segments: segments.length, oldestMs: segments[0]?.createdMs };
}
