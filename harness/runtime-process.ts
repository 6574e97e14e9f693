// Starts the real runtime (`bun runtime/main.ts`) as a child process on a free loopback port.
import type { Subprocess } from "bun";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitForHttp } from "./ports.ts";
import { REPO_ROOT } from "./binaries.ts";

export interface RuntimeProcess {
  url: string;
  port: number;
  dataDir: string;
  proc: Subprocess;
  /** Everything the process printed on stdout so far (JSON log lines). */
  output(): string;
  /** The complete log lines printed so far, parsed (a line still being written is left out). */
  logLines(): Record<string, unknown>[];
  /** Signals the process (unless it has exited) and waits for its exit and the end of its output. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/**
 * The pool threads the image starts the runtime with (deploy/Dockerfile's UV_THREADPOOL_SIZE): tests
 * and benchmarks run the runtime as it is deployed.
 */
export const POOL_THREADS = /UV_THREADPOOL_SIZE=(\d+)/.exec(
  readFileSync(join(REPO_ROOT, "deploy", "Dockerfile"), "utf8"),
)![1]!;

export function tempDir(prefix = "tarsd-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * `tempDir` for a test file whose directories are removed by `cleanUp` (bun:test's afterEach or
 * afterAll, as the file needs): `const scratch = scratchDirs(afterEach)`.
 */
export function scratchDirs(cleanUp: (fn: () => void) => void): (prefix: string) => string {
  const dirs: string[] = [];
  cleanUp(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = tempDir(prefix);
    dirs.push(dir);
    return dir;
  };
}

/**
 * Starts `bun runtime/main.ts` on PORT=0: the process binds a port the kernel picks and reports it in
 * its "listening" log line, so no port is picked here and released (another process could take it).
 */
export async function startRuntime(
  env: Record<string, string> = {},
  options: {
    /** A command the runtime runs under, its own command appended (e.g. unshare, for a small disk of its own). */
    prefix?: string[];
  } = {},
): Promise<RuntimeProcess> {
  const dataDir = env.DATA_DIR ?? tempDir();
  const proc = Bun.spawn([...(options.prefix ?? []), "bun", join(REPO_ROOT, "runtime", "main.ts")], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      DRAIN_DELAY_MS: "0",
      UV_THREADPOOL_SIZE: POOL_THREADS,
      ...env,
      PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  let out = "";
  const outputRead = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) out += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
  let url = "";
  try {
    url = await listeningUrl(() => out, proc);
    await waitForHttp(`${url}/readyz`);
  } catch (err) {
    proc.kill("SIGKILL");
    throw new Error(`runtime did not become ready: ${String(err)}\n${out}`);
  }
  const port = Number(new URL(url).port);
  return {
    url,
    port,
    dataDir,
    proc,
    output: () => out,
    logLines: () => out.split("\n").slice(0, -1).filter(Boolean).map((line) => JSON.parse(line)),
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const code = await proc.exited;
      await outputRead; // what it printed last is in output() once it has stopped
      return code;
    },
  };
}

/** The URL from the runtime's `{"msg":"listening","url":...}` log line, once it is printed. */
async function listeningUrl(output: () => string, proc: Subprocess, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = /"msg":"listening","url":"(http:\/\/[^"]+)"/.exec(output());
    if (match) return match[1]!;
    if (proc.exitCode !== null) throw new Error(`runtime exited with ${proc.exitCode} before listening`);
    if (Date.now() > deadline) throw new Error(`no "listening" line within ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}
