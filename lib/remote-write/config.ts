// Everything the remote-write function reads from the environment, in one place.
import { envFirst, envInt, envString } from "@tarsd/sdk";
import type { DecodeLimits } from "./decode.ts";

export interface RemoteWriteConfig {
  limits: DecodeLimits;
  /** Set: write to InfluxDB 2's /api/v2/write. Unset: the embedded file sink under DATA_DIR. */
  influxUrl?: string;
  influxToken?: string;
  influxOrg: string;
  influxBucket: string;
  influxTimeoutMs: number;
  dataDir: string;
  /** The bearer token Prometheus must send (REMOTE_WRITE_TOKEN, else AUTH_TOKEN); unset: none. */
  token?: string;
  /** The main route (REMOTE_WRITE_PATH); /api/v1/prom/write is served too. */
  path: string;
}

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_DECODED_BYTES = 64 * 1024 * 1024;

export function configFromEnv(): RemoteWriteConfig {
  return {
    limits: {
      maxBodyBytes: envInt("REMOTE_WRITE_MAX_BYTES", DEFAULT_MAX_BODY_BYTES),
      maxDecodedBytes: envInt("REMOTE_WRITE_MAX_DECODED_BYTES", DEFAULT_MAX_DECODED_BYTES),
    },
    influxUrl: envString("INFLUX_URL"),
    influxToken: envString("INFLUX_TOKEN"),
    influxOrg: envString("INFLUX_ORG", "tarsd")!,
    influxBucket: envString("INFLUX_BUCKET", "prometheus")!,
    influxTimeoutMs: envInt("INFLUX_TIMEOUT_MS", 10_000),
    dataDir: envString("DATA_DIR", "./data")!,
    token: envFirst("REMOTE_WRITE_TOKEN", "AUTH_TOKEN"),
    path: envString("REMOTE_WRITE_PATH", "/api/v1/write")!,
  };
}
