// fsync of a directory, shared by concurrent callers (group commit): a rename is durable once its
// directory is fsynced, and one fsync covers every rename made before it started. A caller arriving
// while one runs waits for the next, which then serves everyone who arrived meanwhile: under
// concurrent uploads most of them share a sync instead of each paying for one.
import { constants } from "node:fs";
import { open } from "node:fs/promises";

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

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY).catch(() => null);
  if (!handle) return;
  await handle.sync().catch(() => {}); // Some filesystems (and NFS clients) refuse fsync on dirs.
  await handle.close();
}
