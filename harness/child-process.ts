// Starts a server process of a test or benchmark (Prometheus, node-exporter, VictoriaMetrics, InfluxDB,
// deno serve) and knows its port and logs. The runtime has its own starter (runtime-process.ts):
// it reports its port in its log line.
import type { Subprocess } from "bun";
import { REPO_ROOT } from "./binaries.ts";
import { listeningPorts, waitForHttp } from "./ports.ts";

export interface Child {
  name: string;
  url: string;
  port: number;
  proc: Subprocess;
  /** Everything written to stderr/stdout so far (for failure messages). */
  logs(): string;
  stop(): Promise<void>;
}

/** SIGTERM, then SIGKILL if `proc` has not ended within `graceMs`; resolves once it ended. */
export async function terminate(proc: Subprocess, graceMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

/**
 * Starts a server that was told to listen on 127.0.0.1:`port`, or on port 0 when `port` is not given:
 * then its port is the one it holds a listening socket on that answers `readyPath`. Ready when
 * `readyPath` answers `readyStatus`.
 */
export async function spawnChild(
  name: string,
  cmd: string[],
  readyPath: string,
  { port, readyStatus = 200, timeoutMs = 30_000, env }: {
    port?: number;
    readyStatus?: number;
    timeoutMs?: number;
    /** The child's whole environment (default: this process's). */
    env?: Record<string, string>;
  } = {},
): Promise<Child> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", cwd: REPO_ROOT, env: env ?? { ...process.env } });
  let out = "";
  for (const stream of [proc.stdout, proc.stderr] as ReadableStream<Uint8Array>[]) {
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) out = (out + decoder.decode(chunk, { stream: true })).slice(-200_000);
    })();
  }
  const stop = () => terminate(proc, 10_000);
  let bound = port ?? 0;
  try {
    const deadline = Date.now() + timeoutMs;
    if (bound === 0) bound = await reportedPort(proc, readyPath, timeoutMs);
    await waitForHttp(`http://127.0.0.1:${bound}${readyPath}`, {
      status: readyStatus,
      timeoutMs: Math.max(1000, deadline - Date.now()),
    });
  } catch (err) {
    await stop();
    throw new Error(`${name} did not start: ${String(err)}\n${out.slice(-4000)}`);
  }
  const child: Child = { name, url: `http://127.0.0.1:${bound}`, port: bound, proc, logs: () => out, stop };
  return child;
}

/** The port among those `proc` listens on that answers HTTP at `readyPath` (any status). */
async function reportedPort(proc: Subprocess, readyPath: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`exited (${proc.exitCode ?? proc.signalCode})`);
    }
    for (const port of listeningPorts(proc.pid)) {
      const probe = fetch(`http://127.0.0.1:${port}${readyPath}`, { signal: AbortSignal.timeout(1000) });
      const answered = await probe.then((r) => r.arrayBuffer()).then(
        () => true,
        () => false,
      );
      if (answered) return port;
    }
    if (Date.now() > deadline) throw new Error(`no listening port answered HTTP within ${timeoutMs} ms`);
    await Bun.sleep(20);
  }
}

/**
 * Runs a command to its end (not a server): its exit code and everything it wrote. Asynchronous, so
 * a stand-in this process serves (a proxy, a fake API) can answer it meanwhile.
 */
export async function runCommand(
  cmd: string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; timeout?: number } = {},
): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(cmd, { ...options, stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  return { code, out, err };
}
