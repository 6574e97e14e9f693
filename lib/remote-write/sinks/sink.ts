// What the function needs from a backend: one awaited write per remote-write request. A write
// resolves only once the backend has durably accepted every line, and otherwise throws a SinkError
// saying whether retrying can help — that decides between 400 (Prometheus drops the batch) and
// 503 (Prometheus retries, nothing lost).
export interface Sink {
  /** Human-readable target, for logs. */
  readonly describe: string;
  /** `body`: line protocol, newline-terminated lines, UTF-8. */
  write(body: Uint8Array): Promise<void>;
  /** Starts what the sink runs beside the writes (the spool's replayer), before the first one. */
  start?(): Promise<void>;
  /** Ends it, after the last write. */
  stop?(): Promise<void>;
}

export const SINK_ERROR_KINDS = [
  "rejected",
  "throttled",
  "server_error",
  "config",
  "timeout",
  "network",
  "io",
  "spool_full",
] as const;

type SinkErrorKind = (typeof SINK_ERROR_KINDS)[number];

export class SinkError extends Error {
  constructor(
    /** `rejected`: the data itself was refused, retrying cannot help. Anything else: retry. */
    readonly kind: SinkErrorKind,
    readonly reason: string,
  ) {
    super(reason);
  }

  get retryable(): boolean {
    return this.kind !== "rejected";
  }
}
