// Runs the real curl binary, as the README's users do.
import { requireBinary } from "./binaries.ts";

export interface CurlResult {
  exitCode: number;
  stdout: Uint8Array;
  stderr: string;
}

export async function curl(args: string[], cwd?: string): Promise<CurlResult> {
  const proc = Bun.spawn([requireBinary("curl"), "-sS", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).arrayBuffer(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { exitCode, stdout: new Uint8Array(stdout), stderr };
}
