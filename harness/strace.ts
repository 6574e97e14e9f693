// System calls of a running process, seen from outside it: strace attached to its pid (all its
// threads, and those it starts meanwhile), optionally failing some calls (strace's fault injection,
// e.g. `fsync:error=ENOSPC`). What the code under test does to the disk is observed, not reported by it:
// no seam in the code. strace comes from `bash scripts/setup --test`; attaching needs ptrace rights
// over the process (root, or a child of ours with kernel.yama.ptrace_scope <= 1).
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { requireBinary } from "./binaries.ts";
import { tempDir } from "./runtime-process.ts";

export interface TracedCall {
  /** The thread that made it. */
  tid: number;
  syscall: string;
  /** The arguments as strace prints them (with -y: a descriptor as `9</its/path>`). */
  args: string;
  /** The paths of its descriptor arguments, in order. */
  fdPaths: string[];
  /** Its string arguments (paths, for link, rename, ...), in order. */
  strings: string[];
  result: number;
  /** The errno name when it failed, e.g. ENOSPC. */
  error?: string;
  /** Whether the failure was injected by strace. */
  injected: boolean;
  /** When it entered and returned, in ms since the epoch (the same clock as Date.now()). */
  start: number;
  end: number;
}

export interface SyscallTrace {
  /** Detaches strace (the process runs on untouched) and returns the calls it saw, in order of entry. */
  stop(): Promise<TracedCall[]>;
}

/**
 * Attaches strace to `pid`, tracing `syscalls`; resolves once every thread is attached. `inject`:
 * strace's `-e inject=` expression (e.g. `fsync:error=EIO`), applied to the traced calls.
 */
export async function traceSyscalls(
  pid: number,
  syscalls: string[],
  options: { inject?: string } = {},
): Promise<SyscallTrace> {
  const strace = requireBinary("strace");
  const dir = tempDir("tarsd-strace-");
  const out = join(dir, "trace");
  const command = [strace, "-f", "-y", "-ttt", "-T", "-s", "4096", "-e", `trace=${syscalls.join(",")}`];
  if (options.inject) command.push("-e", `inject=${options.inject}`);
  command.push("-o", out, "-p", String(pid));
  const proc = Bun.spawn(command, { stdout: "ignore", stderr: "pipe" });
  // strace says "Process N attached" on stderr once it holds every thread.
  let stderr = "";
  const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const deadline = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  try {
    while (!/Process \d+ attached/.test(stderr)) {
      const { value, done } = await reader.read();
      if (done) {
        throw new Error(
          `strace could not attach to ${pid} (it needs ptrace rights: root, or kernel.yama.ptrace_scope <= 1):\n${stderr}`,
        );
      }
      stderr += decoder.decode(value, { stream: true });
    }
  } catch (err) {
    proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    clearTimeout(deadline);
  }
  // Keep reading stderr, so strace never blocks on a full pipe.
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      stderr += decoder.decode(value, { stream: true });
    }
  })().catch(() => {});
  return {
    async stop() {
      proc.kill("SIGINT"); // detaches from every thread and flushes the output file
      const code = await proc.exited;
      await rest;
      try {
        if (code !== 0 && proc.signalCode === null) throw new Error(`strace ended with ${code}:\n${stderr}`);
        return parseTrace(readFileSync(out, "utf8"));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

const HEAD = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/;

/** strace's output (-f -y -ttt -T): a call cut by another thread's is joined with its `resumed` line. */
export function parseTrace(text: string): TracedCall[] {
  const calls: TracedCall[] = [];
  const open = new Map<number, { syscall: string; args: string; start: number }>();
  for (const line of text.split("\n")) {
    const head = HEAD.exec(line);
    if (!head) continue;
    const tid = Number(head[1]);
    const time = Number(head[2]) * 1000;
    const body = head[3]!;
    const unfinished = /^(\w+)\((.*) <unfinished \.\.\.>$/.exec(body);
    if (unfinished) {
      open.set(tid, { syscall: unfinished[1]!, args: unfinished[2]!, start: time });
      continue;
    }
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(body);
    const complete = resumed ? undefined : /^(\w+)\((.*)$/.exec(body);
    let syscall: string, rest: string, start: number, prefix = "";
    if (resumed) {
      const begun = open.get(tid);
      open.delete(tid);
      syscall = resumed[1]!;
      rest = resumed[2]!;
      start = begun?.start ?? time;
      prefix = begun?.args ?? "";
    } else if (complete) {
      syscall = complete[1]!;
      rest = complete[2]!;
      start = time;
    } else {
      continue; // a signal, an exit, a detach
    }
    const split = rest.lastIndexOf(") = ");
    if (split < 0) continue; // a call that never returned while traced
    const args = prefix + rest.slice(0, split);
    const outcome = /^(-?\d+)(?:\s+(E[A-Z0-9]+)\s+\([^)]*\))?(\s+\(INJECTED\))?(?:\s+<(\d+\.\d+)>)?/.exec(
      rest.slice(split + 4),
    );
    if (!outcome) continue;
    const duration = outcome[4] === undefined ? undefined : Number(outcome[4]) * 1000;
    calls.push({
      tid,
      syscall,
      args,
      fdPaths: [...args.matchAll(/\d+<([^<>]*)>/g)].map((m) => m[1]!),
      strings: [...args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!),
      result: Number(outcome[1]),
      error: outcome[2],
      injected: outcome[3] !== undefined,
      start,
      end: resumed ? time : start + (duration ?? 0),
    });
  }
  return calls.sort((a, b) => a.start - b.start);
}
