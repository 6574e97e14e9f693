// The tests leave the machine's services alone and run beside them (issue 26): scripts/setup never
// stops or disables a service, .ci/run runs the suite with Debian's own services up on their default
// ports (.ci/system-services), Debian's Docker among them, the swarm test publishes none of those ports,
// and its dockerd runs in a network namespace of its own (tests/swarm/private-engine.e2e.test.ts) and
// never stops another: at start it ends only what a killed test run of its own left behind.
import { expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { engineProcesses, staleRunDirs } from "../../harness/docker-engine.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import { HOST_PORTS } from "../swarm/swarm-fixture.ts";
import { TEST_PORTS } from "../swarm/test-stack.ts";

const read = (path: string) => Bun.file(join(REPO_ROOT, path)).text();
/** Code lines only: comments may say what the script does not do. */
const code = (text: string) => text.split("\n").filter((line) => !/^\s*#/.test(line)).join("\n");

function servicePorts(): Map<string, number> {
  const res = Bun.spawnSync(["bash", join(REPO_ROOT, ".ci", "system-services"), "ports"], { stdout: "pipe" });
  expect(res.exitCode).toBe(0);
  return new Map(
    res.stdout.toString().trim().split("\n").map((line) => {
      const [name, port] = line.split(" ");
      return [name ?? "", Number(port)];
    }),
  );
}

test("scripts/setup never stops, disables or masks a service, nor kills a daemon", async () => {
  const setup = code(await read("scripts/setup"));
  expect(setup).not.toMatch(/systemctl|\bservice\s+\S+\s+stop|invoke-rc\.d|update-rc\.d|pkill|killall|\bkill\b/);
  expect(setup).not.toMatch(/policy-rc\.d/);
});

test(".ci/run runs the suite with Debian's services on their default ports and Debian's Docker, checks them after it, and stops them at its end", async () => {
  const ports = servicePorts();
  expect(Object.fromEntries(ports)).toMatchObject({
    nginx: 80,
    prometheus: 9090,
    "prometheus-node-exporter": 9100,
    "victoria-metrics": 8428,
  });
  // Each is a package scripts/setup --test installs.
  const packages = /TEST_PACKAGES=\(([^)]*)\)/.exec(code(await read("scripts/setup")))?.[1]?.split(/\s+/) ?? [];
  for (const name of ports.keys()) {
    expect({ name, installed: packages.includes(name) }).toEqual({ name, installed: true });
  }
  const run = code(await read(".ci/run"));
  expect(run).toContain('trap \'bash .ci/system-services stop "$services"');
  expect(run).toMatch(
    /bash scripts\/setup --test && bash \.ci\/system-services start "\$services" \|\| exit\n\s*bash scripts\/test\n/,
  );
  // ... and fails unless each one still answers after the suite.
  expect(run).toMatch(
    /bash scripts\/test\n\s*tested=\$\?\n\s*bash \.ci\/system-services check "\$services" \|\| exit 1/,
  );
});

test("the swarm test publishes none of those ports, nor a default port of InfluxDB, Prometheus or node-exporter", () => {
  const taken = [...servicePorts().values(), 8086, 8087, 8088, 9090, 9093, 9094, 9100, 3000, 2375, 2376];
  expect(Object.values(HOST_PORTS).filter((port) => taken.includes(port))).toEqual([]);
  expect(Object.values(HOST_PORTS).sort()).toEqual(Object.values(TEST_PORTS).sort());
});

test("what a killed run left is ended at the next start, never another dockerd nor a live run's processes", async () => {
  // Stand-ins with an engine's command lines: a shell that sleeps, its arguments after the script.
  const dir = tempDir("tarsd-fake-engines-");
  const runPrefix = join(dir, "run-");
  const stale = `${runPrefix}4194305`; // above Linux's largest pid: its test process is gone
  const live = `${runPrefix}${process.pid}`;
  mkdirSync(stale);
  mkdirSync(live);
  const spawn = (args: string[]) =>
    Bun.spawn(["sh", "-c", "sleep 30; :", ...args], { stdout: "ignore", stderr: "ignore" });
  const ours = spawn(["dockerd", "--data-root", "/srv/ours"]);
  const system = spawn(["dockerd"]);
  const otherRoot = spawn(["dockerd", "--data-root", "/var/lib/docker"]);
  const leftContainerd = spawn(["containerd", "--config", `${stale}/containerd.toml`]);
  const liveContainerd = spawn(["containerd", "--config", `${live}/containerd.toml`]);
  try {
    await Bun.sleep(100);
    expect(staleRunDirs(runPrefix)).toEqual([stale]);
    const found = engineProcesses("/srv/ours", staleRunDirs(runPrefix)).map((line) => Number(line.split(" ")[0]));
    expect(found.sort()).toEqual([ours.pid, leftContainerd.pid].sort());
    expect(found).not.toContain(system.pid);
    expect(found).not.toContain(otherRoot.pid);
    expect(found).not.toContain(liveContainerd.pid);
  } finally {
    for (const proc of [ours, system, otherRoot, leftContainerd, liveContainerd]) proc.kill();
  }
});
