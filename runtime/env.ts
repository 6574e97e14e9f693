// Reads configuration from the environment the same way on Bun and Deno (both provide node:process).
import process from "node:process";

export function envString(name: string, fallback?: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === "" ? fallback : value;
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
