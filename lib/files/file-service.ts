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
import { readStoreUsage, recordStoreUsage } from "./store-usage.ts";

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
   * With `housekeeping`, also starts the periodic pass (blob collector, abandoned uploads, the
   * store's usage measured: store-usage.ts): only the upload function asks for it (writers make the
   * garbage), so a replica running both functions runs one pass, not two. A store never measured
   * (new, or from before the measurement) is measured at once, in the background.
   */
  async start(options: { housekeeping?: boolean } = {}): Promise<void> {
    this.started ??= this.prepare();
    await this.started;
    if (options.housekeeping && !this.stopped && this.timer === undefined) {
      this.timer = setInterval(() => void this.housekeepingPass(), this.settings.gcIntervalMs);
      this.timer.unref();
      void this.exclusively(async () => {
        if (await readStoreUsage(this.store) === undefined) await this.measure();
      });
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
    return this.exclusively(() => this.housekeep());
  }

  /** Runs `task` unless a pass (or a measurement) is running: then that one's promise. */
  private exclusively(task: () => Promise<void>): Promise<void> {
    this.pass ??= task().finally(() => (this.pass = undefined));
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
      const collected = await collectBlobs(this.store, this.settings.gcGraceMs);
      const expired = await this.uploads.expire();
      if (expired.length > 0) {
        console.log(JSON.stringify({ level: "info", msg: "removed abandoned uploads", uploads: expired }));
      }
      // Measured by the replica whose collector pass ran (one per interval across the replicas).
      if (!collected.skipped) await this.measure();
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "store housekeeping failed", error: String(err) }));
    }
  }

  /** Measures the store's usage and keeps it there for every replica's metrics (store-usage.ts). */
  private async measure(): Promise<void> {
    try {
      await recordStoreUsage(this.store);
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "measuring the store failed", error: String(err) }));
    }
  }
}
