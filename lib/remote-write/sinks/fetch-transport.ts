// The influx client's own transport, with `send` (the one call the sink makes) over fetch. Under Bun
// the client takes its Node build, whose transport is node:http; fetch is Bun's native HTTP client:
// measured 427k -> 490k samples/s end to end (bench/remote-write.ts, same run). The failures are the
// client's own (HttpError with status, body and parsed JSON; RequestTimedOutError), so the sink maps
// them exactly as before; request(), iterate() and chunkCombiner (queries) stay the client's.
import {
  type CommunicationObserver,
  HttpError,
  RequestTimedOutError,
  type Transport,
} from "@influxdata/influxdb-client";

interface FetchSendOptions {
  url: string;
  token?: string;
  timeoutMs: number;
}

export function withFetchSend(base: Transport, options: FetchSendOptions): Transport {
  const url = options.url.replace(/\/+$/, "");
  const authorization: Record<string, string> = options.token ? { authorization: `Token ${options.token}` } : {};
  return {
    request: base.request.bind(base),
    iterate: base.iterate.bind(base),
    chunkCombiner: base.chunkCombiner,
    send(path, body, sendOptions, callbacks?: Partial<CommunicationObserver<Uint8Array>>) {
      const timeout = AbortSignal.timeout(options.timeoutMs);
      fetch(url + path, {
        method: sendOptions.method,
        body: body as unknown as BodyInit, // the sink's bytes, as they are
        headers: { ...sendOptions.headers, ...authorization },
        signal: sendOptions.signal ? AbortSignal.any([sendOptions.signal, timeout]) : timeout,
      }).then(async (res) => {
        const headers = Object.fromEntries(res.headers);
        callbacks?.responseStarted?.(headers, res.status);
        const text = await res.text();
        if (res.status >= 300) {
          callbacks?.error?.(
            new HttpError(
              res.status,
              res.statusText,
              text,
              res.headers.get("retry-after"),
              res.headers.get("content-type"),
              undefined,
              headers,
            ),
          );
        } else callbacks?.complete?.();
      }, (err: unknown) => {
        callbacks?.error?.(timeout.aborted ? new RequestTimedOutError() : (err as Error));
      });
    },
  };
}
