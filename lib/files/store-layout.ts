// Where things live in a store directory that several replicas share (a swarm volume over NFS):
//
//   blobs/ab/abcdef...   each version's bytes, once, immutable, named by their sha256
//   names/<name>         a symlink to ../blobs/ab/<sha256>: the name's current version
//   tmp/                 uploads being received, pointers being made, the clock's probe for a moment
//                        (<host>-<pid>-<uuid>[.suffix], so a restart can tell its own leftovers)
//   gc/                  the collector's marks and lock (blob-collector.ts), the measured usage (store-usage.ts)
//   uploads/             resumable (tus) uploads in progress (resumable-uploads.ts)
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";

const SHA256 = /^[0-9a-f]{64}$/;

/** Whether a file name in blobs/ is a blob's (a sha256 in hex). */
export const isSha256 = (name: string): boolean => SHA256.test(name);

export class StoreLayout {
  readonly blobsDir: string;
  readonly namesDir: string;
  readonly tmpDir: string;
  readonly gcDir: string;
  readonly uploadsDir: string;
  private readonly tempPrefix = `${hostname()}-${process.pid}-`;

  constructor(readonly dir: string) {
    this.blobsDir = join(dir, "blobs");
    this.namesDir = join(dir, "names");
    this.tmpDir = join(dir, "tmp");
    this.gcDir = join(dir, "gc");
    this.uploadsDir = join(dir, "uploads");
  }

  blobPath(sha256: string): string {
    return join(this.blobsDir, sha256.slice(0, 2), sha256);
  }

  /** A fresh path in tmp/ that names this process (so a restart can tell its own leftovers). */
  tempPath(suffix = ""): string {
    return join(this.tmpDir, `${this.tempPrefix}${randomUUID()}${suffix}`);
  }
}

/** The host and process id a tmp/ entry's name gives (`tempPath`), or undefined for another name. */
export function tempOwner(entry: string): { host: string; pid: string } | undefined {
  // <host>-<pid>-<uuid>[.suffix]; host names may contain '-', the uuid has exactly four.
  const parts = entry.replace(/\.[a-z]+$/, "").split("-");
  if (parts.length < 7) return undefined;
  return { host: parts.slice(0, parts.length - 6).join("-"), pid: parts[parts.length - 6]! };
}

/** A pointer's target, relative so the directory can be moved or mounted elsewhere. */
export function pointerTarget(sha256: string): string {
  return `../blobs/${sha256.slice(0, 2)}/${sha256}`;
}

/** The sha256 a pointer's target names, or undefined when it names no blob. */
export function shaOfTarget(target: string): string | undefined {
  const sha256 = target.slice(target.lastIndexOf("/") + 1);
  return isSha256(sha256) ? sha256 : undefined;
}
