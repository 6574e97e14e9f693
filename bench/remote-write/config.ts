// The remote-write benchmark's knobs (environment variables, read once at start), its load and its targets.

/** Seconds of wrk per end-to-end row, in two segments (A B … B A). */
export const DURATION_S = envNumber("BENCH_DURATION", 16);
/** Each of a row's two segments (wrk takes whole seconds). */
export const SEGMENT_S = Math.max(1, Math.round(DURATION_S / 2));
/** Seconds of wrk against each target before its group's segments (not counted). */
export const WARMUP_S = envNumber("BENCH_WARMUP", 2);
/** Series (one sample each) per request, as a Prometheus shard batches them. */
export const SERIES = Math.max(1, Math.round(envNumber("BENCH_SERIES", 2000)));
/** Distinct request bodies wrk cycles through: the same series, later timestamps. */
export const BODIES = 16;
export const CONNECTIONS = 8;
export const THREADS = 2;
/** "decode": only the decode+convert rates (the exit status then judges only the cold target). */
export const ONLY = process.env.BENCH_ONLY ?? "";
if (!["", "decode"].includes(ONLY)) throw new Error(`BENCH_ONLY must be "decode", got ${JSON.stringify(ONLY)}`);

/** What the run is judged by (bench/NOTES.md says why each is stated this way). */
export const TARGETS = {
  /** Decode+convert of never-seen series, one core, samples/s. */
  coldDecodeConvert: 1e6,
  /** function → VictoriaMetrics /api/v2/write ÷ VictoriaMetrics /api/v2/write fed the function's own output. */
  functionOverLineProtocolCeiling: 0.6,
  /** function → InfluxDB 1.8 /api/v2/write ÷ InfluxDB 1.8's own /api/v1/prom/write (both fsync the WAL). */
  functionOverInfluxOwnEndpoint: 2,
  /** function → InfluxDB ÷ the same with its spool turned off: the spool may cost at most 10% while InfluxDB is up. */
  spoolOverNoSpool: 0.9,
} as const;

/**
 * A function row may not beat its line-protocol ceiling (the same bytes into the same kind of server, at
 * the same concurrency) by more than this: above it, the run's figures are noise (another process' CPU
 * or disk work landed on some segments), and the run is failed rather than let a flattering ratio pass.
 */
export const MAX_OVER_CEILING = 1.1;

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? "");
  return process.env[name] && Number.isFinite(value) && value >= 0 ? value : fallback;
}
