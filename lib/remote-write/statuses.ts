// The receiver's answers, written once: what each status means to the sender. Prometheus' retry logic
// depends on them (a 5xx is retried, a 4xx drops the batch), so each outcome has exactly one. The
// function's OpenAPI responses and the README's table are this table (tests/remote-write/statuses.test.ts);
// the handler (handler.ts) produces them.

/** Every status the remote-write routes answer with, and what it means. */
export const REMOTE_WRITE_STATUSES = {
  204: "Only once every sample, histogram, exemplar and metadata entry is durable: InfluxDB accepted the write, or " +
    "(InfluxDB unavailable) it was fsynced to the spool, to be replayed, or the embedded file was fsynced (stale " +
    "markers, NaN and ±Inf samples are dropped by design); a 2.0 answer says how many in its " +
    "X-Prometheus-Remote-Write-*-Written headers",
  400: "The request itself is bad, retrying cannot help: malformed snappy or protobuf, duplicate label names (2.0), " +
    "data InfluxDB refused (400/413/422, its reason passed on; it still writes the request's other points); or " +
    "series without a metric name (none, an empty one, no labels; 1.0 metadata without a family name) and native " +
    "histograms Prometheus would refuse (an integer histogram's count not the observations in its buckets, spans " +
    "and counts disagree, unknown schema, negative counts), which are not written while the rest of the request " +
    "is, the answer naming the first few series and how many were refused",
  401: "Bearer token missing or wrong (REMOTE_WRITE_TOKEN, else AUTH_TOKEN, when set)",
  413: "Body over REMOTE_WRITE_MAX_BYTES, or a snappy block announcing more than REMOTE_WRITE_MAX_DECODED_BYTES",
  415: "Unsupported Content-Type, Content-Encoding or proto message (remote write 2.0 requires 415 here: a 2.0 " +
    "sender falls back to 1.0)",
  503: "The sink cannot take it now: InfluxDB unreachable, timed out, 5xx, 429, or 401/403/404 (our token, org or " +
    "bucket is wrong, not Prometheus' data), and the spool cannot either (at REMOTE_WRITE_SPOOL_MAX_BYTES, disk " +
    "full, or turned off): Prometheus keeps the data and retries",
} as const;

/** What a 2.0 answer was written of (remote write 2.0 §Written Count Headers). */
export const WRITTEN_HEADERS = {
  samples: "X-Prometheus-Remote-Write-Samples-Written",
  histograms: "X-Prometheus-Remote-Write-Histograms-Written",
  exemplars: "X-Prometheus-Remote-Write-Exemplars-Written",
} as const;
