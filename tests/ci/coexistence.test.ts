// The tests leave the machine's services alone and run beside them (issue 26): scripts/setup never
// stops or disables a service, .ci/run runs the suite with Debian's own services up on their default
// ports (.ci/system-services), the swarm test publishes none of those ports, and its dockerd refuses to
// start beside another dockerd rather than take over that one's iptables chains and bridges.
import { expect, test } from "bun:test";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, requireBinary } from "../../harness/binaries.ts";
import { otherDockerds } from "../../harness/docker-engine.ts";
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

test(".ci/run runs the suite with Debian's services on their default ports, and stops them at its end", async () => {
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
    /bash scripts\/setup --test && bash \.ci\/system-services start "\$services" && bash scripts\/test/,
  );
});

test("the swarm test publishes none of those ports, nor a default port of InfluxDB, Prometheus or node-exporter", () => {
  const taken = [...servicePorts().values(), 8086, 8087, 8088, 9090, 9093, 9094, 9100, 3000, 2375, 2376];
  expect(Object.values(HOST_PORTS).filter((port) => taken.includes(port))).toEqual([]);
  expect(Object.values(HOST_PORTS).sort()).toEqual(Object.values(TEST_PORTS).sort());
});

test("the swarm test's dockerd sees another dockerd, and only a dockerd on another data root", async () => {
  // A process named dockerd: `sleep` under that name.
  const fake = join(tempDir("tarsd-fake-dockerd-"), "dockerd");
  copyFileSync(requireBinary("sleep"), fake);
  const ours = Bun.spawn([fake, "--data-root", "/srv/ours", "30"], { stdout: "ignore", stderr: "ignore" });
  const theirs = Bun.spawn([fake, "30"], { stdout: "ignore", stderr: "ignore" });
  try {
    await Bun.sleep(100);
    const seen = otherDockerds("/srv/ours");
    expect(seen.some((line) => line.startsWith(`${theirs.pid} `))).toBe(true);
    expect(seen.some((line) => line.startsWith(`${ours.pid} `))).toBe(false);
  } finally {
    ours.kill();
    theirs.kill();
  }
});
