// A private Docker Engine for the swarm test: `dockerd` and its `containerd` with their own data root,
// exec root, sockets and pid files, so nothing touches a system daemon's files and only the test's
// commands see it (DOCKER_HOST), in a network namespace of their own (harness/network-namespace.ts).
// The namespace is what lets it run beside a system Docker (or another checkout's test): dockerd has no
// flag for the names of what it makes in its network namespace, so two daemons in the host's would
// share the iptables chains DOCKER, DOCKER-USER, DOCKER-ISOLATION-STAGE-1/2 and DOCKER-INGRESS (a
// starting dockerd removes and rebuilds them: the other's published ports would stop working), the
// docker0 and docker_gwbridge bridges and swarm's ports; and it would leave the FORWARD policy at DROP.
// Its own containerd, never a system one on /run/containerd/containerd.sock: a host-network container
// is in the namespace of the containerd that starts it. Images persist in the data root between runs
// (.tools/docker): rebuilding the stand-in bases is the slow part, and `docker build` caches by
// content, so a changed file still rebuilds. Everything else (swarm, services, volumes) is reset at
// start and removed at stop.
import type { Subprocess } from "bun";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, requireBinary } from "./binaries.ts";
import { terminate } from "./child-process.ts";
import { type NetworkNamespace, SLIRP_DNS, startNetworkNamespace } from "./network-namespace.ts";

export interface DockerResult {
  code: number;
  out: string;
  err: string;
}

export interface DockerEngine {
  /** unix socket the daemon answers on */
  socket: string;
  /** sockets, logs, pid files and exec roots, removed at stop */
  runDir: string;
  /** the daemon's network namespace: its "host" network, where published ports listen */
  netns: NetworkNamespace;
  /** environment for a child process that should talk to this daemon (docker CLI, deploy scripts) */
  env: Record<string, string>;
  /** `docker <args>`; throws with the command's output unless it exits 0 (or `allowFail`) */
  docker(
    args: string[],
    opts?: { allowFail?: boolean; input?: string | Uint8Array; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<DockerResult>;
  /** the daemon's own log, for failure messages */
  log(): string;
  stop(): Promise<void>;
}

export const DOCKER_ROOT = join(REPO_ROOT, ".tools", "docker");
/** Each engine's run directory is RUN_PREFIX + the test process' pid: short, for unix socket paths. */
const RUN_PREFIX = "/run/tarsd-test-docker-";

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

/** Run directories of engines whose test process is gone (killed before it could clean up). */
export function staleRunDirs(runPrefix = RUN_PREFIX): string[] {
  const slash = runPrefix.lastIndexOf("/");
  const [parent, prefix] = [runPrefix.slice(0, slash), runPrefix.slice(slash + 1)];
  if (!existsSync(parent)) return [];
  return readdirSync(parent)
    .filter((name) => name.startsWith(prefix) && !existsSync(`/proc/${name.slice(prefix.length)}`))
    .map((name) => `${parent}/${name}`);
}

/**
 * An engine's processes: dockerd on `dataRoot`, and anything started under one of `runDirs` (containerd,
 * slirp4netns): "<pid> <command line>". At start, with the stale run directories, they are what a killed
 * test left running (the caller holds the data root's lock: no live engine on it is among them).
 */
export function engineProcesses(dataRoot: string, runDirs: string[]): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    } catch {
      continue; // ended meanwhile
    }
    const i = argv.indexOf("--data-root");
    const onDataRoot = i >= 0 && argv[i + 1] === dataRoot;
    const underRunDir = argv.some((arg) => runDirs.some((dir) => arg.startsWith(`${dir}/`)));
    if (onDataRoot || underRunDir) found.push(`${pid} ${argv.join(" ")}`);
  }
  return found;
}

/** Unmounts what an engine left mounted under its run directory (its namespaces' handles) and removes it. */
function removeRunDir(dir: string) {
  for (const line of readFileSync("/proc/mounts", "utf8").split("\n")) {
    const mount = line.split(" ")[1] ?? "";
    if (mount.startsWith(`${dir}/`)) Bun.spawnSync(["umount", "-l", mount]);
  }
  rmSync(dir, { recursive: true, force: true });
}

async function killAll(processes: string[]) {
  const pids = processes.map((line) => Number(line.split(" ")[0]));
  for (const pid of pids) process.kill(pid, "SIGTERM");
  for (let waited = 0; waited < 30_000 && pids.some((pid) => existsSync(`/proc/${pid}/cmdline`)); waited += 250) {
    await Bun.sleep(250);
  }
  for (const pid of pids) if (existsSync(`/proc/${pid}`)) process.kill(pid, "SIGKILL");
}

/** containerd's configuration: everything under the data root and `runDir`, no CRI (Kubernetes') plugin. */
function containerdConfig(runDir: string): string {
  return [
    "version = 2",
    `root = ${JSON.stringify(join(DOCKER_ROOT, "containerd"))}`,
    `state = ${JSON.stringify(join(runDir, "containerd"))}`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    "[grpc]",
    `  address = ${JSON.stringify(join(runDir, "containerd.sock"))}`,
    "[ttrpc]",
    `  address = ${JSON.stringify(join(runDir, "containerd.sock.ttrpc"))}`,
    "[debug]",
    `  address = ${JSON.stringify(join(runDir, "containerd-debug.sock"))}`,
    "",
  ].join("\n");
}

/** Waits until `ready` holds, or throws with `log()` once `proc` ended or 60 s passed. */
async function waitFor(what: string, proc: Subprocess, ready: () => Promise<boolean>, log: () => string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (await ready()) return;
    if (proc.exitCode !== null || Date.now() > deadline) {
      throw new Error(`${what} did not start (exit ${proc.exitCode}):\n${log()}`);
    }
    await Bun.sleep(250);
  }
}

export async function startDockerEngine(): Promise<DockerEngine> {
  const dockerd = requireBinary("dockerd");
  const containerd = requireBinary("containerd");
  const cli = requireBinary("docker");
  if (process.getuid?.() !== 0) throw new Error("the swarm test starts dockerd and must run as root (CI does)");
  mkdirSync(DOCKER_ROOT, { recursive: true });
  const unlock = await lockDataRoot(40 * 60_000);
  const dataRoot = join(DOCKER_ROOT, "data");
  // The socket path must stay short (108 bytes for unix sockets): keep it in /run, not in the checkout.
  const runDir = `${RUN_PREFIX}${process.pid}`;
  const stale = staleRunDirs();
  await killAll(engineProcesses(dataRoot, stale));
  for (const dir of stale) removeRunDir(dir);
  mkdirSync(runDir, { recursive: true });
  const socket = join(runDir, "docker.sock");
  const logFile = join(runDir, "dockerd.log");
  const containerdLog = join(runDir, "containerd.log");
  const tail = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").slice(-6000) : "");
  const log = () => tail(logFile);
  const env = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    HOME: process.env.HOME ?? "/root",
    DOCKER_HOST: `unix://${socket}`,
    // The classic builder: BuildKit would fetch its Dockerfile frontend from a registry (none here),
    // and the docker CLI on this machine has no buildx plugin.
    DOCKER_BUILDKIT: "0",
  };

  async function docker(
    args: string[],
    opts: { allowFail?: boolean; input?: string | Uint8Array; timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<DockerResult> {
    const child = Bun.spawn([cli, ...args], {
      env: { ...env, ...opts.env },
      stdin: opts.input === undefined
        ? "ignore"
        : typeof opts.input === "string"
        ? new TextEncoder().encode(opts.input)
        : opts.input,
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

  let netns: NetworkNamespace | undefined;
  const daemons: Subprocess[] = []; // dockerd after containerd: stopped in reverse
  async function stop() {
    for (const proc of [...daemons].reverse()) await terminate(proc, 30_000);
    await netns?.stop();
    // dockerd leaves its namespaces' handles mounted under its exec root: a namespace lives on while
    // its handle is mounted.
    removeRunDir(runDir);
    unlock();
  }

  try {
    netns = await startNetworkNamespace(runDir);
    writeFileSync(join(runDir, "containerd.toml"), containerdConfig(runDir));
    const containerdSocket = join(runDir, "containerd.sock");
    const containerdProc = Bun.spawn(netns.command([containerd, "--config", join(runDir, "containerd.toml")]), {
      stdout: Bun.file(containerdLog),
      stderr: Bun.file(containerdLog),
    });
    daemons.push(containerdProc);
    await waitFor(
      "containerd",
      containerdProc,
      () => Promise.resolve(existsSync(containerdSocket)),
      () => tail(containerdLog),
    );
    const dockerdProc = Bun.spawn(
      netns.command([
        dockerd,
        "--data-root",
        dataRoot,
        "--exec-root",
        join(runDir, "exec"),
        "--host",
        `unix://${socket}`,
        "--pidfile",
        join(runDir, "docker.pid"),
        "--storage-driver",
        "overlay2",
        // Containers ask slirp4netns' resolver, which forwards to the host's: the host's resolv.conf may
        // name an address the namespace cannot reach.
        "--dns",
        SLIRP_DNS,
        "--containerd",
        containerdSocket,
      ]),
      { stdout: Bun.file(logFile), stderr: Bun.file(logFile) },
    );
    daemons.push(dockerdProc);
    await waitFor(
      "dockerd",
      dockerdProc,
      async () => (await docker(["version"], { allowFail: true, timeoutMs: 5000 })).code === 0,
      log,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, runDir, netns, env, docker, log, stop };
}
