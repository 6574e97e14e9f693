// Sends the spool to the sink, oldest segment first and each in the order it was appended, then
// removes it. One replayer per spool directory, whichever process holds `replay.lock` (flock: a
// replayer killed mid-replay frees it at once, and the next one starts that segment again). Sending a
// record twice is harmless: a point is its series and timestamp, so InfluxDB overwrites it with itself.
// A segment is the replayer's once no writer holds its lock: sealed, or left by a writer that died
// (replayed as it is: its torn tail was never acknowledged). The sink unavailable: wait and send the same batch again (1 s, doubling to 30 s).
import { type FileHandle, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { syncDir } from "../../disk/directory-sync.ts";
import { type Sink, SinkError } from "../sinks/sink.ts";
import { tryLock } from "./file-lock.ts";
import { records } from "./records.ts";
import { listSegments, REPLAY_LOCK, type Segment } from "./segments.ts";

export interface ReplayerOptions {
  /** How often an idle replayer (or one waiting for the lock) looks again. */
  pollMs: number;
  /** Records are sent together up to this many bytes per write. */
  batchBytes: number;
  /** Longest wait between tries while the sink is unavailable. */
  maxBackoffMs: number;
}

export interface ReplayEvents {
  /** A batch the sink took: its bytes (the replay rate). */
  sent(bytes: number): void;
  /** A batch the sink refused as bad data (it keeps the batch's valid points): counted and logged, skipped. */
  rejected(reason: string): void;
  /** The sink failed and the batch waits for another try. */
  failed(err: SinkError): void;
}

export class Replayer {
  private lock: FileHandle | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;

  constructor(
    readonly dir: string,
    private readonly sink: Sink,
    private readonly events: ReplayEvents,
    private readonly options: ReplayerOptions,
  ) {}

  /** Whether this process is the spool's replayer now. */
  get holdsLock(): boolean {
    return this.lock !== undefined;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Ends the wait between tries now: the sink was seen taking writes again. */
  retryNow(): void {
    this.wake?.();
  }

  /**
   * Stops the loop; a batch still in flight after a second is left to the process' exit (its outcome
   * does not matter: the segment stays until a replayer has sent all of it).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await Promise.race([this.running, new Promise((resolve) => setTimeout(resolve, 1000))]);
    await this.lock?.close();
    this.lock = undefined;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      try {
        if (await this.acquire()) {
          const segment = await this.nextSegment();
          if (segment) {
            await this.replay(segment);
            continue;
          }
        }
      } catch (err) {
        console.error(
          JSON.stringify({
            level: "error",
            msg: "remote-write spool replay failed",
            dir: this.dir,
            error: String(err),
          }),
        );
      }
      await this.sleep(this.options.pollMs);
    }
  }

  private async acquire(): Promise<boolean> {
    if (this.lock) return true;
    const file = await open(join(this.dir, REPLAY_LOCK), "a").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined; // no spool directory yet: nothing was ever spooled
      throw err;
    });
    if (!file) return false;
    if (tryLock(file)) this.lock = file;
    else await file.close();
    return this.lock !== undefined;
  }

  /** The oldest segment no writer holds, held locked while it is replayed. */
  private async nextSegment(): Promise<{ segment: Segment; file: FileHandle } | undefined> {
    for (const segment of await listSegments(this.dir)) {
      const file = await open(segment.path, "r").catch(() => undefined); // removed meanwhile
      if (!file) continue;
      if (tryLock(file)) return { segment, file };
      await file.close(); // its writer is alive and appending
    }
    return undefined;
  }

  private async replay({ segment, file }: { segment: Segment; file: FileHandle }): Promise<void> {
    try {
      const bytes = new Uint8Array(await readFile(file));
      let batch: Uint8Array[] = [];
      let batchBytes = 0;
      for (const record of records(bytes)) {
        if (batchBytes > 0 && batchBytes + record.length > this.options.batchBytes) {
          if (!(await this.send(batch, batchBytes))) return;
          batch = [];
          batchBytes = 0;
        }
        batch.push(record);
        batchBytes += record.length;
      }
      if (batchBytes > 0 && !(await this.send(batch, batchBytes))) return;
      await rm(segment.path, { force: true });
      await syncDir(this.dir);
    } finally {
      await file.close();
    }
  }

  /** True once the sink took the batch or refused it as bad data; false when stopping first. */
  private async send(batch: Uint8Array[], bytes: number): Promise<boolean> {
    const body = batch.length === 1 ? batch[0]! : Buffer.concat(batch, bytes);
    for (let backoff = 1000; !this.stopping; backoff = Math.min(backoff * 2, this.options.maxBackoffMs)) {
      try {
        await this.sink.write(body);
        this.events.sent(bytes);
        return true;
      } catch (err) {
        if (err instanceof SinkError && !err.retryable) {
          this.events.rejected(err.reason);
          return true;
        }
        this.events.failed(err instanceof SinkError ? err : new SinkError("io", String(err)));
        await this.sleep(backoff);
      }
    }
    return false;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
