// The benchmark's knobs (environment variables, read once at start) and the constants its modules share.
export const KiB = 1024;
export const MiB = 1024 * KiB;

export const DURATION_S = envNumber("BENCH_DURATION", 10);
export const WARMUP_S = envNumber("BENCH_WARMUP", 1);
/** Each of a row's two segments (wrk takes whole seconds). */
export const SEGMENT_S = Math.max(1, Math.round(DURATION_S / 2));
export const THREADS = envNumber("BENCH_THREADS", 2);
export const CONNECTIONS = 8;
export const RSS_GIB = envNumber("BENCH_RSS_GIB", 2);
export const RSS_BOUND_MIB = 64;
export const ONLY = process.env.BENCH_ONLY ?? "";
if (!["", "wrk", "rss"].includes(ONLY)) {
  throw new Error(`BENCH_ONLY must be "wrk" or "rss", got ${JSON.stringify(ONLY)}`);
}

export const NGINX_1_LABEL = "nginx (worker_processes 1)";
export const SEED_LABEL = "seed (Bottle)";
export const UPLOAD_MARK = "<tarsd-bench-id>"; // 16 bytes
export const SIZES = [
  { label: "4 KiB", tag: "4k", bytes: 4 * KiB },
  { label: "1 MiB", tag: "1m", bytes: 1 * MiB },
] as const;
export type Size = (typeof SIZES)[number];

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? "");
  return process.env[name] && Number.isFinite(value) && value >= 0 ? value : fallback;
}
