// Starts the real runtime (`bun runtime/main.ts`) as a child process on a free loopback port.
import type { Subprocess } from "bun";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForHttp } from "./ports.ts";
import { REPO_ROOT } from "./binaries.ts";

export interface RuntimeProcess {
  url: string;
  port: number;
  dataDir: string;
  proc: Subprocess;
  /** Everything the process printed on stdout so far (JSON log lines). */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export function tempDir(prefix = "tarsd-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startRuntime(env: Record<string, string> = {}): Promise<RuntimeProcess> {
  const port = await freePort();
  const dataDir = env.DATA_DIR ?? tempDir();
  const proc = Bun.spawn(["bun", join(REPO_ROOT, "runtime", "main.ts")], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      DRAIN_DELAY_MS: "0",
      ...env,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  let out = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) out += decoder.decode(chunk, { stream: true });
  })();
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/readyz`);
  } catch (err) {
    proc.kill("SIGKILL");
    throw new Error(`runtime did not become ready: ${String(err)}\n${out}`);
  }
  return {
    url,
    port,
    dataDir,
    proc,
    output: () => out,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return await proc.exited;
    },
  };
}
