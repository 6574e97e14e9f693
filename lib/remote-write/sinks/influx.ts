// InfluxDB 2 (or anything speaking its /api/v2/write, e.g. VictoriaMetrics) through the official
// client. Its WriteApi is built for fire-and-forget batching (60 s flush, own retries, own buffer):
// exactly the failure mode of Prometheus' example adapter, which answers before the backend write
// has succeeded. So each remote-write request becomes one awaited POST of all its lines through the
// client's transport (its auth header, timeout and HttpError mapping), with no buffer and no retry
// of its own: retrying is Prometheus' job, it re-sends on 5xx. Skipping WriteApi also skips its
// per-line byte accounting, measured at a third of the sink's time (bench/remote-write.ts).
import { HttpError, InfluxDB, RequestTimedOutError, setLogger } from "@influxdata/influxdb-client";
import { withFetchSend } from "./fetch-transport.ts";
import { type Sink, SinkError } from "./sink.ts";

interface InfluxSinkOptions {
  url: string;
  token?: string;
  org: string;
  bucket: string;
  timeoutMs: number;
}

export function influxSink(options: InfluxSinkOptions): Sink {
  // The client logs every failed write on its own; the handler already logs each failure once (with
  // the sink, kind and line count) and counts it, so the client's duplicate lines are silenced.
  setLogger({ error: () => {}, warn: () => {} });
  const base = new InfluxDB({ url: options.url, token: options.token, timeout: options.timeoutMs }).transport;
  const client = new InfluxDB({
    url: options.url,
    token: options.token,
    timeout: options.timeoutMs,
    transport: withFetchSend(base, options),
  });
  const path = `/api/v2/write?org=${encodeURIComponent(options.org)}&bucket=${
    encodeURIComponent(options.bucket)
  }&precision=ms`;
  const sendOptions = {
    method: "POST",
    headers: { "content-type": "text/plain; charset=utf-8" },
    // The client gzips any body over 1 kB by default: on the swarm's overlay network that costs
    // far more CPU than the bytes it saves (measured: bench/remote-write.ts), so send it plain.
    gzipThreshold: Number.MAX_SAFE_INTEGER,
  };
  return {
    describe: `influxdb ${options.url} org=${options.org} bucket=${options.bucket}`,
    async write(body) {
      if (body.length === 0) return;
      await new Promise<void>((resolve, reject) => {
        // `send` takes the bytes as they are (`request` would JSON-encode a non-string body).
        client.transport.send(path, body as unknown as string, sendOptions, {
          error: (err) => reject(classify(err)),
          complete: () => resolve(),
        });
      });
    },
  };
}

/** Maps a client failure to "the data is bad" (400 upstream) or "try again later" (503 upstream). */
function classify(err: unknown): SinkError {
  if (err instanceof HttpError) {
    const detail = typeof err.json?.message === "string" ? err.json.message : (err.body || err.message);
    const reason = `InfluxDB answered ${err.statusCode}: ${String(detail).slice(0, 500)}`;
    if (err.statusCode === 400 || err.statusCode === 413 || err.statusCode === 422) {
      return new SinkError("rejected", reason);
    }
    if (err.statusCode === 429) return new SinkError("throttled", reason);
    if (err.statusCode >= 500) return new SinkError("server_error", reason);
    // 401/403/404 (token, org or bucket wrong) are our configuration, not Prometheus' data:
    // keep Prometheus retrying until someone fixes it instead of dropping the samples.
    return new SinkError("config", reason);
  }
  if (err instanceof RequestTimedOutError) return new SinkError("timeout", `InfluxDB write timed out: ${err.message}`);
  const code = (err as { code?: string })?.code;
  return new SinkError(
    "network",
    `InfluxDB unreachable: ${code ? `${code} ` : ""}${(err as Error)?.message ?? String(err)}`,
  );
}
