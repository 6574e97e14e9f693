// A sink that keeps accepting while the one behind it (InfluxDB) is away: a write the sink cannot take
// now is fsynced to the spool instead (spool/), and acknowledged then; the replayer sends the spool
// to the sink once it answers again. While spooling, live writes go to the spool too, except one
// probe at a time every `probeMs`: when the sink takes it, writing goes direct again (the rest of the
// spool is replayed beside it: order between the two does not matter, a point is its series and
// timestamp). Bad data (the sink's 400) is never spooled: the sender hears of it as before. When the
// spool refuses (at its bound, disk full) the write fails as retryable: the sender keeps its data.
import type { Registry } from "prom-client";
import { spoolMetrics } from "../metrics.ts";
import { loadFileLocks } from "../spool/file-lock.ts";
import { Replayer } from "../spool/replayer.ts";
import { SpoolFullError, SpoolWriter } from "../spool/spool-writer.ts";
import { type Sink, SinkError } from "./sink.ts";

export interface SpoolOptions {
  dir: string;
  /** Past this many bytes held, writes the sink cannot take fail (retryable) instead of being spooled. */
  maxBytes: number;
  /** Where the spool's metrics are registered. */
  registry: Registry;
  /** Told of every failure of the sink behind, also those the spool then absorbed. */
  onSinkError(err: SinkError): void;
}

/** How the spool runs; tests shorten the waits. */
export const SPOOL_TIMING = {
  /** While spooling, how often a live write is tried on the sink first. */
  probeMs: 2000,
  /** A segment is handed to the replayer at this size, or this long after its first record or its last. */
  segmentBytes: 8 * 1024 * 1024,
  sealAfterMs: 2000,
  /** The replayer: how often it looks for work, how much it sends at once, its longest wait between tries. */
  pollMs: 1000,
  batchBytes: 4 * 1024 * 1024,
  maxBackoffMs: 30_000,
};

export function spooledSink(sink: Sink, options: SpoolOptions, timing = SPOOL_TIMING): Sink {
  let spoolingSince: number | undefined;
  let lastTryMs = 0;
  let probing = false;
  const writer = new SpoolWriter(options.dir, {
    maxBytes: options.maxBytes,
    segmentBytes: timing.segmentBytes,
    sealAfterMs: timing.sealAfterMs,
  });
  const metrics = spoolMetrics(options.registry, {
    dir: options.dir,
    maxBytes: options.maxBytes,
    spooling: () => spoolingSince !== undefined,
    replaying: () => replayer.holdsLock,
  });
  const replayer = new Replayer(options.dir, sink, {
    sent: (bytes) => {
      metrics.replayedBytesTotal.inc(bytes);
      void sinkBack().catch(() => undefined);
    },
    rejected: (reason) => {
      metrics.replayRejectedTotal.inc();
      log("error", "remote-write spool: the sink refused a replayed batch as bad data", { reason });
    },
    failed: options.onSinkError,
  }, timing);

  function log(level: string, msg: string, extra: Record<string, unknown> = {}) {
    console.error(JSON.stringify({ level, msg, sink: sink.describe, spool: options.dir, ...extra }));
  }

  /** The sink took a write (live or replayed): live writes go to it again. */
  async function sinkBack(): Promise<void> {
    if (spoolingSince === undefined) return;
    log("warn", "remote-write sink back: writing directly, replaying the spool", {
      spooledForMs: Date.now() - spoolingSince,
    });
    spoolingSince = undefined;
    replayer.retryNow(); // not after the rest of its back-off (up to maxBackoffMs)
    await writer.seal(); // what this process spooled goes to the replayer now
  }

  async function direct(body: Uint8Array): Promise<boolean> {
    try {
      await sink.write(body);
      await sinkBack();
      return true;
    } catch (err) {
      if (!(err instanceof SinkError) || !err.retryable) throw err;
      options.onSinkError(err);
      if (spoolingSince === undefined) {
        spoolingSince = Date.now();
        log("warn", "remote-write sink unavailable: spooling", { kind: err.kind, reason: err.reason });
      }
      return false;
    }
  }

  return {
    describe: `${sink.describe}, spooled to ${options.dir}`,
    async write(body) {
      if (body.length === 0) return;
      const probe = spoolingSince !== undefined && !probing && Date.now() - lastTryMs >= timing.probeMs;
      if (spoolingSince === undefined || probe) {
        lastTryMs = Date.now();
        probing = probe;
        try {
          if (await direct(body)) return;
        } finally {
          if (probe) probing = false;
        }
      }
      try {
        await writer.append(body);
      } catch (err) {
        const reason = err instanceof SpoolFullError ? err.message : `spool write failed: ${(err as Error).message}`;
        throw new SinkError("spool_full", `the sink is unavailable and ${reason}`);
      }
      metrics.spooledRequestsTotal.inc();
      metrics.spooledBytesTotal.inc(body.length);
    },
    async start() {
      await loadFileLocks();
      replayer.start();
    },
    async stop() {
      await writer.seal().catch(() => undefined);
      await replayer.stop();
    },
  };
}
