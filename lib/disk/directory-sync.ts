// fsync of a directory, shared by concurrent callers (group commit): a rename is durable once its
// directory is fsynced, and one fsync covers every rename made before it started. A caller arriving
// while one runs waits for the next, which then serves everyone who arrived meanwhile: under
// concurrent uploads most of them share a sync instead of each paying for one.
// A failed fsync fails every caller it was to cover: their renames are not known to be on disk, so
// none of them may be acknowledged (lib/files/file-store.ts undoes them and the request answers 5xx).
import { closeSync, constants, fsync, openSync } from "node:fs";
import { promisify } from "node:util";

/** The fsync of an open directory's descriptor; rejects with the system's error. */
export type FsyncFd = (fd: number) => Promise<void>;

const fsyncFd: FsyncFd = promisify(fsync);

export class DirectorySync {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  /** `fsyncDir`: how the directory's descriptor is fsynced (default: fsync(2) in the thread pool). */
  constructor(readonly dir: string, private readonly fsyncDir: FsyncFd = fsyncFd) {}

  sync(): Promise<void> {
    if (this.queued) return this.queued; // starts after the running one: covers this caller's rename
    if (this.running) {
      // The next sync starts once the running one ends, whether that one succeeded or not: it is the
      // one covering the renames made meanwhile, and it is its own outcome they get.
      const next = () => {
        this.queued = undefined;
        return this.start();
      };
      this.queued = this.running.then(next, next);
      return this.queued;
    }
    return this.start();
  }

  private start(): Promise<void> {
    const run = syncDir(this.dir, this.fsyncDir).finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}

/**
 * fsync of a directory; a failure rejects (with the system's error: ENOSPC and EDQUOT become 507 in
 * storageErrors, disk-full.ts). The one error taken as success is EINVAL, the kernel's "this file
 * does not support synchronization" (some filesystems say so for directories): there is nothing to
 * wait for there. Opening and closing it are done in place (a path lookup and a close: microseconds
 * in the kernel, where each trip through the runtime's thread pool waits behind the fsyncs and writes
 * queued there); only the fsync itself, which waits for the disk, goes to the pool.
 */
export async function syncDir(dir: string, fsyncDir: FsyncFd = fsyncFd): Promise<void> {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fsyncDir(fd).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EINVAL") throw err;
    });
  } finally {
    closeSync(fd);
  }
}
