// The benchmark's knobs (environment variables, read once at start) and the constants its modules share.
import { SmallBlobs } from "../../lib/files/small-blobs.ts";

export const KiB = 1024;
export const MiB = 1024 * KiB;

export const DURATION_S = envNumber("BENCH_DURATION", 10);
export const WARMUP_S = envNumber("BENCH_WARMUP", 1);
/** Each of a row's two segments (wrk takes whole seconds). */
export const SEGMENT_S = Math.max(1, Math.round(DURATION_S / 2));
export const THREADS = envNumber("BENCH_THREADS", 2);
// The upload stamp gives a wrk thread two hex digits (bench/wrk/files.lua).
if (!Number.isInteger(THREADS) || THREADS < 1 || THREADS > 255) {
  throw new Error(`BENCH_THREADS must be a whole number from 1 to 255, got ${process.env.BENCH_THREADS}`);
}
export const CONNECTIONS = 8;
export const RSS_GIB = envNumber("BENCH_RSS_GIB", 2);
export const RSS_BOUND_MIB = 64;
export const ONLY = process.env.BENCH_ONLY ?? "";
if (!["", "wrk", "rss"].includes(ONLY)) {
  throw new Error(`BENCH_ONLY must be "wrk" or "rss", got ${JSON.stringify(ONLY)}`);
}

export const NGINX_1_LABEL = "nginx (worker_processes 1)";
export const NGINX_PUT_LABEL = "nginx dav PUT (worker_processes 1)";
/** The seed as shipped: Bottle's default server, wsgiref, one request at a time. */
export const SEED_LABEL = "seed (Bottle, wsgiref single-threaded)";
/** The same app under the threaded server a user would pick (Debian's python3-waitress, 4 threads). */
export const SEED_THREADED_LABEL = "seed (Bottle, threaded: waitress)";
export const DUFS_LABEL = "dufs";
/** 16 bytes at the start of every upload body, replaced in each request by a stamp (bench/wrk/files.lua). */
export const UPLOAD_MARK = "<tarsd-bench-id>";

export interface Size {
  label: string;
  tag: string;
  bytes: number;
}
export const SIZES: readonly Size[] = [
  { label: "4 KiB", tag: "4k", bytes: 4 * KiB },
  { label: "1 MiB", tag: "1m", bytes: 1 * MiB },
];

/**
 * The GET rows over distinct files: each set holds SMALL_BLOB_MEMORY_MULTIPLE times the bytes the
 * download function keeps in memory (lib/files/small-blobs.ts, its default bound), so most requests
 * miss that memory. 1 MiB files are past its entry bound anyway; their set is as large in bytes.
 */
export const SMALL_BLOB_MEMORY_BYTES = new SmallBlobs().maxTotalBytes;
export const SMALL_BLOB_MEMORY_MULTIPLE = 4;
export const DISTINCT_SETS = SIZES.map((size) => {
  const count = Math.ceil((SMALL_BLOB_MEMORY_MULTIPLE * SMALL_BLOB_MEMORY_BYTES) / size.bytes);
  return { size: { ...size, label: `${size.label} × ${count.toLocaleString("en-US")}` }, of: size, count };
});

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? "");
  return process.env[name] && Number.isFinite(value) && value >= 0 ? value : fallback;
}
