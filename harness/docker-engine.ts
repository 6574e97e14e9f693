// A private Docker Engine for the swarm test: `dockerd` with its own data root, exec root, socket and
// pid file, so nothing touches a system daemon's files and only the test's commands see it (DOCKER_HOST).
// It never stops or reconfigures a system Docker. It cannot run beside another dockerd, though (a
// system one, or another checkout's test): dockerd has no flag for the names of what it makes in the
// host's network namespace, so two daemons share the iptables chains DOCKER, DOCKER-USER,
// DOCKER-ISOLATION-STAGE-1/2 and DOCKER-INGRESS (a starting dockerd removes and rebuilds them: the other's
// published ports would stop working), the docker0 and docker_gwbridge bridges (and their address
// ranges), and swarm's ports. So it refuses to start while another dockerd runs (otherDockerds), naming
// it, rather than break the user's Docker. A system containerd is no such problem: when one answers on
// /run/containerd/containerd.sock dockerd uses it, in namespaces of its own (tarsd-test, below), beside
// a system dockerd's "moby"; else dockerd starts its own under the exec root. Images persist in the data root between runs (.tools/docker): rebuilding the
// stand-in bases is the slow part, and `docker build` caches by content, so a changed file still
// rebuilds. Everything else (swarm, services, volumes) is reset at start and removed at stop.
import type { Subprocess } from "bun";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { REPO_ROOT, requireBinary } from "./binaries.ts";

export interface DockerResult {
  code: number;
  out: string;
  err: string;
}

export interface DockerEngine {
  /** unix socket the daemon answers on */
  socket: string;
  /** environment for a child process that should talk to this daemon (docker CLI, deploy scripts) */
  env: Record<string, string>;
  /** `docker <args>`; throws with the command's output unless it exits 0 (or `allowFail`) */
  docker(
    args: string[],
    opts?: { allowFail?: boolean; input?: string; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<DockerResult>;
  /** the daemon's own log, for failure messages */
  log(): string;
  stop(): Promise<void>;
}

export const DOCKER_ROOT = join(REPO_ROOT, ".tools", "docker");

/** Network interfaces dockerd creates (docker0, docker_gwbridge), to remove those it made. */
function links(): Set<string> {
  const out = Bun.spawnSync(["ip", "-o", "link", "show"], { stdout: "pipe" }).stdout.toString();
  return new Set(
    [...out.matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1] ?? "").filter((name) =>
      /^(docker0|docker_gwbridge)$/.test(name)
    ),
  );
}

/**
 * Holds an exclusive lock on the data root until the returned function is called: two engines on one
 * data root (two test files, or a test and a helper script) would corrupt it. Waits up to `timeoutMs`
 * for a holder to end. The holder keeps the lock until its stdin closes: when this process ends,
 * however it ends.
 */
async function lockDataRoot(timeoutMs: number): Promise<() => void> {
  const holder = Bun.spawn(
    [
      requireBinary("flock"),
      "-w",
      String(Math.ceil(timeoutMs / 1000)),
      join(DOCKER_ROOT, ".lock"),
      "sh",
      "-c",
      "echo locked; exec cat >/dev/null",
    ],
    { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
  );
  const first = await holder.stdout.getReader().read();
  if (!new TextDecoder().decode(first.value ?? new Uint8Array()).startsWith("locked")) {
    holder.kill();
    throw new Error(`the Docker data root ${DOCKER_ROOT} stayed locked by another test for ${timeoutMs / 1000} s`);
  }
  return () => holder.kill();
}

/** Running dockerd processes other than one on `dataRoot`: "<pid> <command line>". */
export function otherDockerds(dataRoot: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    } catch {
      continue; // ended meanwhile
    }
    if (basename(argv[0] ?? "") !== "dockerd") continue;
    const i = argv.indexOf("--data-root");
    const root = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith("--data-root="))?.slice("--data-root=".length);
    if (root !== dataRoot) found.push(`${pid} ${argv.join(" ")}`);
  }
  return found;
}

export async function startDockerEngine(): Promise<DockerEngine> {
  const dockerd = requireBinary("dockerd");
  const cli = requireBinary("docker");
  if (process.getuid?.() !== 0) throw new Error("the swarm test starts dockerd and must run as root (CI does)");
  mkdirSync(DOCKER_ROOT, { recursive: true });
  const unlock = await lockDataRoot(40 * 60_000);
  const others = otherDockerds(join(DOCKER_ROOT, "data"));
  if (others.length > 0) {
    unlock();
    throw new Error(
      `another Docker daemon runs on this machine:\n  ${others.join("\n  ")}\nThe swarm test's own dockerd ` +
        "would share its iptables chains and bridges (docker0, docker_gwbridge) and break its networking: " +
        "run the swarm test where no other dockerd runs (CI: .ci/run), or stop that one yourself for the run",
    );
  }
  // The socket path must stay short (108 bytes for unix sockets): keep it in /run, not in the checkout.
  const runDir = `/run/tarsd-test-docker-${process.pid}`;
  const linksBefore = links();
  mkdirSync(runDir, { recursive: true });
  const socket = join(runDir, "docker.sock");
  const logFile = join(runDir, "dockerd.log");
  const proc: Subprocess = Bun.spawn(
    [
      dockerd,
      "--data-root",
      join(DOCKER_ROOT, "data"),
      "--exec-root",
      join(runDir, "exec"),
      "--host",
      `unix://${socket}`,
      "--pidfile",
      join(runDir, "docker.pid"),
      "--storage-driver",
      "overlay2",
      // Namespaces of its own in containerd: its own containerd under the exec root, or a system one's
      // (see above).
      "--containerd-namespace",
      "tarsd-test",
      "--containerd-plugins-namespace",
      "tarsd-test-plugins",
    ],
    { stdout: Bun.file(logFile), stderr: Bun.file(logFile) },
  );
  const env = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    HOME: process.env.HOME ?? "/root",
    DOCKER_HOST: `unix://${socket}`,
    // The classic builder: BuildKit would fetch its Dockerfile frontend from a registry (none here),
    // and the docker CLI on this machine has no buildx plugin.
    DOCKER_BUILDKIT: "0",
  };
  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8").slice(-6000) : "");

  async function docker(
    args: string[],
    opts: { allowFail?: boolean; input?: string; timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<DockerResult> {
    const child = Bun.spawn([cli, ...args], {
      env: { ...env, ...opts.env },
      stdin: opts.input === undefined ? "ignore" : new TextEncoder().encode(opts.input),
      stdout: "pipe",
      stderr: "pipe",
      timeout: opts.timeoutMs ?? 120_000,
    });
    const [out, err, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    if (code !== 0 && !opts.allowFail) {
      throw new Error(`docker ${args.join(" ")} exited ${code}\n${err}${out}`.slice(0, 8000));
    }
    return { code, out, err };
  }

  async function stop() {
    if (proc.exitCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
      await proc.exited;
      clearTimeout(timer);
    }
    // dockerd leaves its default network namespace mounted, and its bridges (docker0, docker_gwbridge).
    for (const mount of readFileSync("/proc/mounts", "utf8").split("\n").map((line) => line.split(" ")[1] ?? "")) {
      if (mount.startsWith(`${runDir}/`)) Bun.spawnSync(["umount", "-l", mount]);
    }
    rmSync(runDir, { recursive: true, force: true });
    for (const link of links()) if (!linksBefore.has(link)) Bun.spawnSync(["ip", "link", "del", link]);
    unlock();
  }

  const deadline = Date.now() + 60_000;
  for (;;) {
    const ping = await docker(["version", "--format", "{{.Server.Version}}"], { allowFail: true, timeoutMs: 5000 });
    if (ping.code === 0) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`dockerd did not start (exit ${proc.exitCode}):\n${log()}`);
    }
    await Bun.sleep(250);
  }
  return { socket, env, docker, log, stop };
}
