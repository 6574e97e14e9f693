// What a file function runs on, built from its settings: the store and the resumable uploads on the
// data directory, and their life. Nothing happens when it is built: `start` prepares the directory
// (and, for the writer, begins the periodic housekeeping), `stop` ends that. Each function builds its
// own (as each deployed bundle has its own copy of the code): two stores on one directory in one
// process are as safe as replicas sharing it over NFS, which is what the store is made for.
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { collectBlobs } from "./blob-collector.ts";
import { FileStore } from "./file-store.ts";
import { migrateLegacyLayout } from "./legacy-layout.ts";
import { ResumableUploads } from "./resumable-uploads.ts";
import type { FileServiceSettings } from "./settings.ts";

export class FileService {
  readonly store: FileStore;
  /** The tus uploads in progress, in the store's uploads/ directory. */
  readonly uploads: ResumableUploads;
  private started: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private pass: Promise<void> | undefined;
  private stopped = false;

  constructor(readonly settings: FileServiceSettings) {
    this.store = new FileStore(join(settings.dataDir, "store"));
    this.uploads = new ResumableUploads(this.store, { expiryMs: settings.uploadExpiryMs });
  }

  /**
   * Prepares the store (once): its directories, what dead uploads left, the older layout moved in.
   * With `housekeeping`, also starts the periodic pass (blob collector, abandoned uploads): only the
   * upload function asks for it (writers make the garbage), so a replica running both functions
   * runs one pass, not two.
   */
  async start(options: { housekeeping?: boolean } = {}): Promise<void> {
    this.started ??= this.prepare();
    await this.started;
    if (options.housekeeping && !this.stopped && this.timer === undefined) {
      this.timer = setInterval(() => void this.housekeepingPass(), this.settings.gcIntervalMs);
      this.timer.unref();
    }
  }

  /** Whether the periodic pass is scheduled (between `start({ housekeeping: true })` and `stop`). */
  get housekeeping(): boolean {
    return this.timer !== undefined;
  }

  /**
   * Throws unless the store's directory answers: what a replica whose file server is gone (NFS) must
   * say on /readyz. A stat of names/ goes to the server (the stack mounts without attribute caching).
   */
  async reachable(): Promise<void> {
    await stat(this.store.namesDir);
  }

  /** Ends the periodic pass (one running finishes first). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.pass;
  }

  /** One housekeeping pass; a pass still running when the next is due is not doubled. */
  housekeepingPass(): Promise<void> {
    this.pass ??= this.housekeep().finally(() => (this.pass = undefined));
    return this.pass;
  }

  private async prepare(): Promise<void> {
    await this.store.init();
    const migration = await migrateLegacyLayout(join(this.settings.dataDir, "files"), this.store);
    if (migration.migrated.length + migration.skipped.length > 0) {
      console.log(JSON.stringify({ level: "info", msg: "moved files into the content-addressed store", ...migration }));
    }
  }

  private async housekeep(): Promise<void> {
    try {
      await collectBlobs(this.store, this.settings.gcGraceMs);
      const expired = await this.uploads.expire();
      if (expired.length > 0) {
        console.log(JSON.stringify({ level: "info", msg: "removed abandoned uploads", uploads: expired }));
      }
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "store housekeeping failed", error: String(err) }));
    }
  }
}
