// Reads configuration from the environment the same way on Bun and Deno (both provide node:process).
// Every variable NAME may instead be given as NAME_FILE, a path whose content is the value: that is
// how Docker swarm secrets arrive (/run/secrets/...), so tokens never sit in `docker inspect`.
import { readFileSync } from "node:fs";
import process from "node:process";

export function envString(name: string, fallback?: string): string | undefined {
  const value = process.env[name];
  if (value !== undefined && value !== "") return value;
  const file = process.env[`${name}_FILE`];
  if (file) return readSecretFile(file) || fallback;
  return fallback;
}

// Functions and the runtime read their settings once, when they load: no cache needed.
function readSecretFile(path: string): string {
  return readFileSync(path, "utf8").trim();
}

export function envInt(name: string, fallback: number): number {
  const raw = envString(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** The first of several variables that is set (e.g. a function-specific token, then the global one). */
export function envFirst(...names: string[]): string | undefined {
  for (const name of names) {
    const value = envString(name);
    if (value !== undefined) return value;
  }
  return undefined;
}
