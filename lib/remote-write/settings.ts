// What the remote-write function is built from, and the one place that reads it from the environment.
import { envFirst, envInt, envString } from "@tarsd/sdk";
import { join } from "node:path";

/** A bucket name as one path component: configuration, but it must not escape its directory. */
export function safeName(bucket: string): string {
  return bucket.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_") || "_";
}

export interface RemoteWriteSettings {
  /** Largest accepted request body (compressed), in bytes: the route's limit (REMOTE_WRITE_MAX_BYTES). */
  maxBodyBytes: number;
  /** Largest decompressed message a snappy block may announce, in bytes (REMOTE_WRITE_MAX_DECODED_BYTES). */
  maxDecodedBytes: number;
  /** Set: write to InfluxDB 2's /api/v2/write. Unset: the embedded file sink under `dataDir`. */
  influxUrl?: string;
  influxToken?: string;
  influxOrg: string;
  influxBucket: string;
  influxTimeoutMs: number;
  dataDir: string;
  /**
   * With InfluxDB: while it is unavailable, requests are acknowledged once fsynced here and replayed
   * later (REMOTE_WRITE_SPOOL_DIR, default `<dataDir>/remote-write-spool/<bucket>`).
   */
  spoolDir: string;
  /** Past this many bytes in the spool, requests are refused again with 503 (REMOTE_WRITE_SPOOL_MAX_BYTES; 0: no spool). */
  spoolMaxBytes: number;
  /** The bearer token Prometheus must send; unset: none. */
  token?: string;
  /** The main route; /api/v1/prom/write is served too. */
  path: string;
}

/** The settings when the environment says nothing (no InfluxDB: the file sink; no token). */
export const DEFAULT_REMOTE_WRITE_SETTINGS: Readonly<RemoteWriteSettings> = {
  maxBodyBytes: 16 * 1024 * 1024,
  maxDecodedBytes: 64 * 1024 * 1024,
  influxOrg: "tarsd",
  influxBucket: "prometheus",
  influxTimeoutMs: 10_000,
  dataDir: "./data",
  spoolDir: "./data/remote-write-spool/prometheus",
  spoolMaxBytes: 1024 * 1024 * 1024,
  path: "/api/v1/write",
};

export function remoteWriteSettingsFromEnv(): RemoteWriteSettings {
  const defaults = DEFAULT_REMOTE_WRITE_SETTINGS;
  const dataDir = envString("DATA_DIR", defaults.dataDir)!;
  const influxBucket = envString("INFLUX_BUCKET", defaults.influxBucket)!;
  return {
    maxBodyBytes: envInt("REMOTE_WRITE_MAX_BYTES", defaults.maxBodyBytes),
    maxDecodedBytes: envInt("REMOTE_WRITE_MAX_DECODED_BYTES", defaults.maxDecodedBytes),
    influxUrl: envString("INFLUX_URL"),
    influxToken: envString("INFLUX_TOKEN"),
    influxOrg: envString("INFLUX_ORG", defaults.influxOrg)!,
    influxBucket,
    influxTimeoutMs: envInt("INFLUX_TIMEOUT_MS", defaults.influxTimeoutMs),
    dataDir,
    spoolDir: envString("REMOTE_WRITE_SPOOL_DIR", join(dataDir, "remote-write-spool", safeName(influxBucket)))!,
    spoolMaxBytes: envInt("REMOTE_WRITE_SPOOL_MAX_BYTES", defaults.spoolMaxBytes),
    token: envFirst("REMOTE_WRITE_TOKEN", "AUTH_TOKEN"),
    path: envString("REMOTE_WRITE_PATH", defaults.path)!,
  };
}
