// The swarm the swarm test deploys to: a private dockerd in a network namespace of its own
// (harness/docker-engine.ts), a swarm advertised on an address of an interface the test creates there
// (an empty bridge: Prometheus scrapes node-exporter at the node's address), the published test ports
// forwarded from the host's 127.0.0.1, the
// stand-in images, the runtime image built by deploy/build-image, and the stack deployed by
// deploy/stack-deploy through the test transform (tests/swarm/test-stack.ts). Both scripts run from a
// copy of the repository with the modes of the VMs' shared folder (tests/swarm/shared-folder.ts).
import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { type DockerEngine, startDockerEngine } from "../../harness/docker-engine.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import { copyAsSharedFolder } from "./shared-folder.ts";
import { buildStandinImages, bunBaseImage } from "./standin-images.ts";
import { TEST_PORTS } from "./test-stack.ts";

export const STACK = "tarsd";
/** APP 1's overlay network: deploy/stack.yml gives it this fixed name (attachable: the client container joins it). */
export const NETWORK = "tarsd_files";
export const INTERFACE = "tarsd-swarm0";
export const NODE_ADDRESS = "10.213.0.1";
/** The same pool deploy/vagrant/provision-master.sh gives the swarm. */
export const ADDRESS_POOL = "10.20.0.0/16";
/**
 * Ports the test stack publishes (mode host) and node-exporter's, forwarded to the host's 127.0.0.1: the
 * stack's 8086, 8087, 9090 and 9100 moved to ports no common service uses by default
 * (tests/swarm/test-stack.ts), so a machine's own Prometheus, node-exporter or InfluxDB can keep running.
 */
export const HOST_PORTS = {
  influxVms: TEST_PORTS[8086] as number,
  influxContainers: TEST_PORTS[8087] as number,
  prometheus: TEST_PORTS[9090] as number,
  nodeExporter: TEST_PORTS[9100] as number,
};
const CLIENT = "tarsd-test-client";

export interface Swarm {
  engine: DockerEngine;
  dir: string;
  /** the copy of the repository the deploy scripts run from: every file 0640, every directory 0750 */
  root: string;
  image: string;
  /** environment for deploy/* scripts: the private daemon, secrets and artifacts in the test's directory */
  deployEnv: Record<string, string>;
  /** `sh -c` inside the client container on APP 1's overlay network (curl, bun, getent are there) */
  client(
    command: string,
    opts?: { allowFail?: boolean; timeoutMs?: number },
  ): Promise<{ code: number; out: string; err: string }>;
  /** host path mounted at /client in the client container */
  clientDir: string;
  /** the client container's image: the bun base (bun and curl) */
  clientImage: string;
}

function run(cmd: string[], env: Record<string, string>, timeoutMs = 600_000) {
  const res = Bun.spawnSync(cmd, { env, stdout: "pipe", stderr: "pipe", timeout: timeoutMs, cwd: REPO_ROOT });
  const killed = res.exitCode === null ? `\n(killed: no exit within ${timeoutMs / 1000} s)` : "";
  return { code: res.exitCode ?? -1, out: res.stdout.toString() + res.stderr.toString() + killed };
}

async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once(
      "error",
      () =>
        reject(
          new Error(
            `port ${port} is taken on this machine: the swarm test publishes it (tests/swarm/test-stack.ts, TEST_PORTS)`,
          ),
        ),
    );
    server.listen(port, "0.0.0.0", () => server.close(() => resolve()));
  });
}

/** Polls until `check` returns a value (not undefined) or throws the last reason after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  intervalMs = 2000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last: ${last})` : ""}`);
    }
    await Bun.sleep(intervalMs);
  }
}

/** Removes what an earlier, interrupted run may have left in the persistent data root. */
async function reset(engine: DockerEngine) {
  await engine.docker(["swarm", "leave", "--force"], { allowFail: true });
  const containers = (await engine.docker(["ps", "-aq"])).out.split("\n").filter(Boolean);
  if (containers.length > 0) await engine.docker(["rm", "-f", ...containers], { allowFail: true });
  await engine.docker(["volume", "prune", "-f"]);
  await engine.docker(["network", "prune", "-f"]);
  // Runtime images of earlier runs: only `latest` is kept, for the build cache.
  const old = (await engine.docker(["images", "tarsd.local/runtime", "--format", "{{.Repository}}:{{.Tag}}"])).out
    .split("\n").filter((tag) => tag && !tag.endsWith(":latest"));
  if (old.length > 0) await engine.docker(["rmi", ...old], { allowFail: true });
  await engine.docker(["image", "prune", "-f"]);
}

export async function startSwarm(): Promise<Swarm> {
  for (const port of Object.values(HOST_PORTS)) await assertPortFree(port);
  const engine = await startDockerEngine();
  try {
    await reset(engine);
    const { ip } = engine.netns;
    ip(["link", "add", INTERFACE, "type", "bridge"]); // an empty bridge: this kernel has no dummy interfaces
    ip(["addr", "add", `${NODE_ADDRESS}/32`, "dev", INTERFACE]);
    ip(["link", "set", INTERFACE, "up"]);
    for (const port of Object.values(HOST_PORTS)) await engine.netns.forward(port);
    await engine.docker([
      "swarm",
      "init",
      "--advertise-addr",
      NODE_ADDRESS,
      "--listen-addr",
      `${NODE_ADDRESS}:2377`,
      "--default-addr-pool",
      ADDRESS_POOL,
    ]);

    await buildStandinImages(engine);
    const dir = tempDir("tarsd-swarm-");
    const deployEnv = {
      ...engine.env,
      TARSD_ARTIFACTS: join(dir, "artifacts"),
      TARSD_SECRETS_DIR: join(dir, "secrets"),
      TARSD_STACK: STACK,
      TARSD_REDEPLOY_LOCK: join(dir, "redeploy.lock"),
      // A stack that does not converge fails the deploy in minutes, not the script's default 10.
      TARSD_CONVERGE_TIMEOUT: "240",
      // Health checks with time to spare, as deploy/vagrant/deploy-stack.sh gives them under emulation:
      // the whole stack shares two cores with the suite here, and a check (a `bun` process) that takes
      // over its 3 s three times in a row during an update's monitor window rolls the update back (seen
      // once in CI: the upgrade's remote-write-vms). Passing checks are as quick as before.
      TARSD_HEALTH_TIMEOUT: "10s",
      TARSD_HEALTH_START_PERIOD: "60s",
    };
    // As /vagrant in the VMs: no file executable, none readable by others (VirtualBox's fmode=640).
    const root = copyAsSharedFolder(join(dir, "tree"));
    const built = run(["bash", join(root, "deploy", "build-image")], deployEnv);
    if (built.code !== 0) throw new Error(`deploy/build-image failed:\n${built.out}`);
    const image = readFileSync(join(dir, "artifacts", "image"), "utf8").trim();

    // The stack as this machine can run it (tests/swarm/test-stack.ts): the test daemon's socket and data
    // root stand where the node's are (the API proxy's and cAdvisor's binds).
    const dataRoot = (await engine.docker(["info", "--format", "{{.DockerRootDir}}"])).out.trim();
    Object.assign(deployEnv, {
      TARSD_IMAGE: image,
      TARSD_STACK_TRANSFORM: `${process.execPath} ${
        join(import.meta.dir, "test-stack.ts")
      } --docker-socket ${engine.socket} --docker-data-root ${dataRoot} --work-dir ${dir}`,
    });

    const clientDir = join(dir, "client");
    mkdirSync(clientDir, { recursive: true });
    return {
      engine,
      dir,
      root,
      image,
      deployEnv,
      clientDir,
      clientImage: bunBaseImage(readFileSync(join(REPO_ROOT, "deploy", "Dockerfile"), "utf8")),
      client: (command, opts = {}) =>
        engine.docker(["exec", CLIENT, "sh", "-c", command], { allowFail: opts.allowFail, timeoutMs: opts.timeoutMs }),
    };
  } catch (err) {
    await stopSwarm({ engine } as Swarm);
    throw err;
  }
}

/** deploy/stack-deploy with the test transform; returns its output. */
export function deployStack(swarm: Swarm): string {
  const res = run(["bash", join(swarm.root, "deploy", "stack-deploy")], swarm.deployEnv);
  if (res.code !== 0) throw new Error(`deploy/stack-deploy failed:\n${res.out}`);
  return res.out;
}

/** The client container: on APP 1's overlay network (it calls nothing else), the tests directory at /tests. */
export async function startClient(swarm: Swarm): Promise<void> {
  await swarm.engine.docker(["rm", "-f", CLIENT], { allowFail: true });
  await swarm.engine.docker([
    "run",
    "-d",
    "--name",
    CLIENT,
    "--network",
    NETWORK,
    "-v",
    `${swarm.clientDir}:/client`,
    "-v",
    `${import.meta.dir}:/tests:ro`,
    swarm.clientImage,
    "sleep",
    "infinity",
  ]);
}

export async function stopClient(swarm: Swarm): Promise<void> {
  await swarm.engine.docker(["rm", "-f", CLIENT], { allowFail: true });
}

export async function removeStack(swarm: Swarm): Promise<void> {
  await swarm.engine.docker(["stack", "rm", STACK], { allowFail: true });
  await eventually("stack removed", 120_000, async () => {
    const left = (await swarm.engine.docker(["ps", "-aq", "--filter", `label=com.docker.stack.namespace=${STACK}`])).out
      .trim();
    const networks =
      (await swarm.engine.docker(["network", "ls", "-q", "--filter", `label=com.docker.stack.namespace=${STACK}`])).out
        .trim();
    return left === "" && networks === "" ? true : undefined;
  });
}

export async function stopSwarm(swarm: Swarm): Promise<void> {
  if (!swarm?.engine) return;
  try {
    await stopClient(swarm);
    if (swarm.image) await removeStack(swarm);
    await reset(swarm.engine);
  } finally {
    await swarm.engine.stop();
  }
}
