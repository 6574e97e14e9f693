// InfluxDB 2 (or anything speaking its /api/v2/write, e.g. VictoriaMetrics) through the official
// client. The client is built for fire-and-forget batching (60 s flush, own retries, own buffer);
// that is exactly the failure mode of Prometheus' example adapter, which answers before the
// backend write has succeeded. So every request gets its own WriteApi that never flushes on its
// own (batch limits above the request size, no interval), with retries off, and `close()` — one
// HTTP write of all lines — is awaited. Retrying is Prometheus' job: it re-sends on 5xx.
import { HttpError, InfluxDB, RequestTimedOutError, setLogger, type WriteOptions } from "@influxdata/influxdb-client";
import { SinkError, type Sink } from "./sink.ts";

export interface InfluxSinkOptions {
  url: string;
  token?: string;
  org: string;
  bucket: string;
  timeoutMs: number;
}

// The client logs every failed write on its own; the handler already logs each failure once (with
// the sink, kind and line count) and counts it, so the client's duplicate lines are silenced.
setLogger({ error: () => {}, warn: () => {} });

export function influxSink(options: InfluxSinkOptions): Sink {
  const client = new InfluxDB({ url: options.url, token: options.token, timeout: options.timeoutMs });
  return {
    describe: `influxdb ${options.url} org=${options.org} bucket=${options.bucket}`,
    async write(lines) {
      if (lines.length === 0) return;
      const writeOptions: Partial<WriteOptions> = {
        batchSize: lines.length + 1, // never auto-flush mid-request (it would swallow the error)
        maxBatchBytes: Number.MAX_SAFE_INTEGER,
        flushInterval: 0,
        maxRetries: 0,
      };
      const api = client.getWriteApi(options.org, options.bucket, "ms", writeOptions);
      api.writeRecords(lines);
      try {
        await api.close();
      } catch (err) {
        throw classify(err);
      }
    },
  };
}

/** Maps a client failure to "the data is bad" (400 upstream) or "try again later" (503 upstream). */
export function classify(err: unknown): SinkError {
  if (err instanceof HttpError) {
    const detail = typeof err.json?.message === "string" ? err.json.message : (err.body || err.message);
    const reason = `InfluxDB answered ${err.statusCode}: ${String(detail).slice(0, 500)}`;
    if (err.statusCode === 400 || err.statusCode === 413 || err.statusCode === 422) return new SinkError("rejected", reason);
    if (err.statusCode === 429) return new SinkError("throttled", reason);
    if (err.statusCode >= 500) return new SinkError("server_error", reason);
    // 401/403/404 (token, org or bucket wrong) are our configuration, not Prometheus' data:
    // keep Prometheus retrying until someone fixes it instead of dropping the samples.
    return new SinkError("config", reason);
  }
  if (err instanceof RequestTimedOutError) return new SinkError("timeout", `InfluxDB write timed out: ${err.message}`);
  const code = (err as { code?: string })?.code;
  return new SinkError("network", `InfluxDB unreachable: ${code ? `${code} ` : ""}${(err as Error)?.message ?? String(err)}`);
}
