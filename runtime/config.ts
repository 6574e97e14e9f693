// The runtime's own settings, read once at start. Functions read their own settings (DATA_DIR,
// MAX_UPLOAD_BYTES, INFLUX_URL, ...) once when they load, so that they also work under `deno serve`;
// the runtime never writes them back into the environment.
import { join, resolve } from "node:path";
import { envInt, envString } from "@tarsd/sdk";

export interface RuntimeConfig {
  port: number;
  host: string;
  /** Function names to load; empty means every file in functionsDir. */
  functions: string[];
  functionsDir: string;
  /** After SIGTERM: how long /readyz answers 503 before the listener closes (let the LB notice). */
  drainDelayMs: number;
  /** After SIGTERM: hard deadline for in-flight requests, kept below Docker's 10 s stop timeout. */
  shutdownGraceMs: number;
  logRequests: boolean;
  /** How long /readyz waits for a function's readiness check before it counts as not ready. */
  readyTimeoutMs: number;
  /** Alertmanager's base URL, whose firing alerts GET /alerts passes on; unset: alerts are not configured. */
  alertmanagerUrl: string | undefined;
}

export function loadConfig(): RuntimeConfig {
  const functions = (envString("FUNCTIONS", "") ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  return {
    port: envInt("PORT", 5001),
    host: envString("HOST", "0.0.0.0")!,
    functions,
    functionsDir: resolve(envString("FUNCTIONS_DIR", join(import.meta.dir, "..", "functions"))!),
    drainDelayMs: envInt("DRAIN_DELAY_MS", 3000),
    shutdownGraceMs: envInt("SHUTDOWN_GRACE_MS", 8000),
    logRequests: envString("LOG_REQUESTS", "1") !== "0",
    readyTimeoutMs: envInt("READY_TIMEOUT_MS", 1500),
    alertmanagerUrl: baseUrl("ALERTMANAGER_URL", envString("ALERTMANAGER_URL")),
  };
}

/** An http(s) URL without its trailing slashes; anything else stops start-up with the variable's name. */
function baseUrl(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash) {
    throw new Error(`${name} must be an http:// or https:// base URL (no query), got ${JSON.stringify(raw)}`);
  }
  return url.href.replace(/\/+$/, "");
}
