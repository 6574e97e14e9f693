// Process and temp-file bookkeeping: everything started here is stopped on exit, even on error.
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const children = new Set<Subprocess>();
const tempDirs: string[] = [];
const stoppers: (() => Promise<void>)[] = [];
let cleaned = false;

/** The run's temp dir (servers' data, request bodies, probes), removed by cleanup. */
export function benchTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tarsd-bench-"));
  tempDirs.push(dir);
  return dir;
}

/** Registers a server's stop for cleanup (servers started later are stopped first). */
export function stopOnCleanup(stop: () => Promise<void>): void {
  stoppers.push(stop);
}

export async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  for (const stop of stoppers.reverse()) await stop().catch(() => {});
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}

export function cleanUpOnSignals(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      console.error(`\nbench: ${signal}, cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }
}

/** Runs a command to its end (curl, `nginx -t`, version probes); a run cut short by cleanup is killed. */
export async function run(
  cmd: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  children.add(child);
  void child.exited.then(() => children.delete(child));
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout as ReadableStream).text(),
    new Response(child.stderr as ReadableStream).text(),
    child.exited,
  ]);
  return { code, stdout, stderr };
}
