// fsync of a directory, shared by concurrent callers (group commit): a rename is durable once its
// directory is fsynced, and one fsync covers every rename made before it started. A caller arriving
// while one runs waits for the next, which then serves everyone who arrived meanwhile: under
// concurrent uploads most of them share a sync instead of each paying for one.
import { closeSync, constants, fsync, openSync } from "node:fs";

export class DirectorySync {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(readonly dir: string) {}

  sync(): Promise<void> {
    if (this.queued) return this.queued; // starts after the running one: covers this caller's rename
    if (this.running) {
      this.queued = this.running.then(() => {
        this.queued = undefined;
        return this.start();
      });
      return this.queued;
    }
    return this.start();
  }

  private start(): Promise<void> {
    const run = syncDir(this.dir).finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}

/**
 * fsync of a directory. Opening and closing it are done in place (a path lookup and a close: microseconds
 * in the kernel, where each trip through the runtime's thread pool waits behind the fsyncs and writes
 * queued there); only the fsync itself, which waits for the disk, goes to the pool.
 */
export async function syncDir(dir: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch {
    return;
  }
  try {
    await new Promise<void>((resolve) => fsync(fd, () => resolve())); // Some filesystems (and NFS clients) refuse fsync on dirs.
  } finally {
    closeSync(fd);
  }
}
