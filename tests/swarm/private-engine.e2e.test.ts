// The swarm test's private Docker Engine (harness/docker-engine.ts) runs in a network namespace of its
// own, so it can run beside a system Docker: everything a swarm makes in the network (iptables chains,
// bridges, published ports, swarm's listeners) is made there, and the host's network namespace is as it
// was once the engine stopped. .ci/run runs the suite with Debian's Docker up (.ci/system-services),
// whose own container must still answer through its published port afterwards.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireBinary } from "../../harness/binaries.ts";
import { DOCKER_ROOT, type DockerEngine, engineProcesses, startDockerEngine } from "../../harness/docker-engine.ts";
import { hostNetworkState } from "../../harness/host-network.ts";
import { SLIRP_DNS } from "../../harness/network-namespace.ts";
import { freePort } from "../../harness/ports.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import { eventually } from "./swarm-fixture.ts";

const IMAGE = "tarsd.test/busybox:latest";
const BRIDGE = "tarsd-engine0";
const NODE_ADDRESS = "10.213.1.1";
/** A name the host resolves and a port that answers there: the package registry image builds reach. */
const OUTSIDE = { host: "registry.npmjs.org", port: 443 };

let engine: DockerEngine | undefined;
let before: Record<string, string>;
let port: number;

const need = () => {
  if (!engine) throw new Error("the private engine did not start (see beforeAll)");
  return engine;
};

/** `docker import` of a root file system with Debian's static busybox and a page to serve. */
async function busyboxImage(e: DockerEngine) {
  const root = tempDir("tarsd-busybox-");
  mkdirSync(join(root, "bin"));
  mkdirSync(join(root, "www"));
  Bun.spawnSync(["cp", requireBinary("busybox"), join(root, "bin", "busybox")]);
  for (const applet of ["sh", "httpd", "ip", "nc", "cat", "sleep"]) {
    Bun.spawnSync(["ln", "-s", "busybox", join(root, "bin", applet)]);
  }
  writeFileSync(join(root, "www", "index.html"), "served from the private engine's namespace\n");
  const tar = Bun.spawnSync(["tar", "-C", root, "-c", "."], { stdout: "pipe" }).stdout;
  await e.docker(["import", "-", IMAGE], { input: tar });
}

beforeAll(async () => {
  before = hostNetworkState();
  port = await freePort();
  engine = await startDockerEngine();
}, 120_000);

afterAll(async () => {
  await engine?.docker(["swarm", "leave", "--force"], { allowFail: true });
  await engine?.stop();
}, 120_000);

test(
  "a swarm on the private engine: its overlay network, a port published in host mode and reached from the host, a host-network container that sees only the engine's namespace, and a way out",
  async () => {
    const e = need();
    await busyboxImage(e);
    e.netns.ip(["link", "add", BRIDGE, "type", "bridge"]);
    e.netns.ip(["addr", "add", `${NODE_ADDRESS}/32`, "dev", BRIDGE]);
    e.netns.ip(["link", "set", BRIDGE, "up"]);
    await e.docker(["swarm", "leave", "--force"], { allowFail: true });
    await e.docker(["swarm", "init", "--advertise-addr", NODE_ADDRESS, "--listen-addr", `${NODE_ADDRESS}:2377`]);
    await e.docker(["network", "create", "--driver", "overlay", "--attachable", "engine-test"]);
    await e.docker([
      "service",
      "create",
      "--detach",
      "--name",
      "web",
      "--network",
      "engine-test",
      "--endpoint-mode",
      "dnsrr",
      "--publish",
      `mode=host,target=80,published=${port}`,
      IMAGE,
      "httpd",
      "-f",
      "-p",
      "80",
      "-h",
      "/www",
    ]);
    await e.netns.forward(port);
    const page = await eventually("the published port answers on the host's 127.0.0.1", 90_000, async () => {
      const res = await fetch(`http://127.0.0.1:${port}/index.html`);
      return res.ok ? await res.text() : undefined;
    }, 500);
    expect(page).toBe("served from the private engine's namespace\n");

    // "host" is the engine's namespace: its interfaces (the bridge made there among them), none of the
    // host's (a system Docker's docker0 has the name of the engine's own: told apart by address).
    const interfaces = (ipLinks: string) =>
      [...ipLinks.matchAll(/^\d+: ([^:@]+)[^\n]*link\/\S+ ([0-9a-f:]{17})/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    const seen = interfaces((await e.docker(["run", "--rm", "--network", "host", IMAGE, "ip", "-o", "link"])).out);
    expect(seen).toEqual(interfaces(e.netns.ip(["-o", "link"])));
    expect(seen.some((link) => link.startsWith(`${BRIDGE} `))).toBe(true);
    const host = interfaces(Bun.spawnSync([requireBinary("ip"), "-o", "link"], { stdout: "pipe" }).stdout.toString());
    expect(seen.filter((link) => !link.startsWith("lo ") && host.includes(link))).toEqual([]);

    // A container on the default bridge resolves through slirp4netns and reaches what image builds reach
    // (the package registry).
    const resolvConf = (await e.docker(["run", "--rm", IMAGE, "cat", "/etc/resolv.conf"])).out;
    expect(resolvConf.match(/^nameserver .*/gm)).toEqual([`nameserver ${SLIRP_DNS}`]);
    const out = await e.docker(
      ["run", "--rm", IMAGE, "sh", "-c", `nc -w 10 ${OUTSIDE.host} ${OUTSIDE.port} </dev/null && echo connected`],
      { allowFail: true },
    );
    expect({ out: out.out.trim(), err: out.err.trim() }).toEqual({ out: "connected", err: "" });

    // Meanwhile the host's namespace holds none of it.
    expect(hostNetworkState()).toEqual(before);
    await e.docker(["service", "rm", "web"]);
  },
  240_000,
);

test("once stopped, the host's network is as it was, and nothing of the engine runs or stays mounted", async () => {
  const e = need();
  await e.docker(["swarm", "leave", "--force"]);
  await e.stop();
  engine = undefined;
  expect(hostNetworkState()).toEqual(before);
  expect(engineProcesses(join(DOCKER_ROOT, "data"), [e.runDir])).toEqual([]);
  expect(existsSync(e.runDir)).toBe(false);
}, 120_000);
