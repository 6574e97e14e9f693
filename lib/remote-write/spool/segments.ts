// The spool directory: segments named `<created ms>-<writer>.open` while their writer appends (and
// holds a lock on them), renamed `.seg` when sealed; `replay.lock` held by the one replayer. The name
// orders segments by age and says when the oldest data in it was accepted.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

export const REPLAY_LOCK = "replay.lock";
export const CREATING_PREFIX = "creating-";

export interface Segment {
  name: string;
  path: string;
  createdMs: number;
  /** still appended to by a live writer, or left by one that died */
  open: boolean;
}

const SEGMENT = /^(\d{15})-([0-9a-z]+)\.(open|seg)$/;

export function openSegmentName(createdMs: number, writer: string): string {
  return `${String(createdMs).padStart(15, "0")}-${writer}.open`;
}

export function sealedName(openName: string): string {
  return openName.replace(/\.open$/, ".seg");
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
    if (m) out.push({ name, path: join(dir, name), createdMs: Number(m[1]), open: m[3] === "open" });
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
