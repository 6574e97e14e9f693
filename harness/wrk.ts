// Drives wrk, the load generator of bench/, with one of its Lua scripts (bench/wrk/*.lua). Each
// script prints one `WRK_JSON {...}` line from done(), read here instead of wrk's text output.
import { join } from "node:path";
import { REPO_ROOT, requireBinary } from "./binaries.ts";

export interface WrkResult {
  duration_us: number;
  requests: number;
  /** Response bytes, headers included. */
  bytes: number;
  errors: Record<string, number>;
  latency_us: { mean?: number; p50: number; p99: number; max?: number };
}

export interface WrkRun {
  url: string;
  /** bench/wrk/<script>.lua */
  script: "files" | "remote-write";
  seconds: number;
  connections: number;
  threads?: number;
  timeoutSeconds?: number;
  /** What the script reads from its environment (request method, body files, token...). */
  env?: Record<string, string>;
}

export async function wrk(run: WrkRun): Promise<WrkResult> {
  const args = [
    requireBinary("wrk"),
    `-t${run.threads ?? 2}`,
    `-c${run.connections}`,
    `-d${run.seconds}s`,
    "--timeout",
    `${run.timeoutSeconds ?? 30}s`,
    "-s",
    join(REPO_ROOT, "bench", "wrk", `${run.script}.lua`),
    run.url,
  ];
  const proc = Bun.spawn(args, { env: { ...process.env, ...run.env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  const line = out.split("\n").find((l) => l.startsWith("WRK_JSON "));
  if (code !== 0 || !line) throw new Error(`wrk failed (${code}): ${err}\n${out}`);
  return JSON.parse(line.slice("WRK_JSON ".length)) as WrkResult;
}

/** Socket errors, timeouts and non-2xx/3xx answers: any of them makes a row's figures invalid. */
export const wrkErrors = (r: WrkResult) => Object.values(r.errors).reduce((a, b) => a + b, 0);
