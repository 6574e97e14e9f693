// A network namespace of the test's own, with the way out a container engine needs and nothing made in
// the host's: `unshare --net` holds the namespace, slirp4netns gives it a tap0 (10.0.2.100, gateway
// 10.0.2.2) whose traffic leaves as ordinary sockets of the slirp4netns process (so an image build
// reaches the package registry with no NAT rule, route or ip_forward change on the host), and host
// ports are forwarded in through slirp4netns' API (127.0.0.1:port on the host to the namespace's same
// port). A daemon started through `exec` has its iptables chains, bridges, sysctls and listening ports
// in the namespace: a system Docker's in the host's namespace never see them, and they go with it.
import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { requireBinary } from "./binaries.ts";
import { terminate } from "./child-process.ts";

/** slirp4netns' DNS forwarder inside the namespace: it resolves with the host's resolver. */
export const SLIRP_DNS = "10.0.2.3";

export interface NetworkNamespace {
  /** the namespace's handle, for `nsenter --net=` */
  path: string;
  /** `cmd` run inside the namespace (same files, same mounts: only the network differs) */
  command(cmd: string[]): string[];
  /** `ip <args>` inside the namespace: its output; throws with its errors unless it exits 0 (or `allowFail`) */
  ip(args: string[], allowFail?: boolean): string;
  /** Forwards 127.0.0.1:`port` on the host to the same port in the namespace (TCP). */
  forward(port: number): Promise<void>;
  stop(): Promise<void>;
}

/** One request to slirp4netns' API socket (a JSON object each way, the connection half-closed between). */
async function slirpApi(socket: string, request: object): Promise<{ return?: unknown; error?: { desc?: string } }> {
  return await new Promise((resolve, reject) => {
    const conn = createConnection({ path: socket });
    let answer = "";
    conn.on("connect", () => conn.end(JSON.stringify(request)));
    conn.on("data", (chunk) => (answer += chunk.toString()));
    conn.on("error", reject);
    conn.on("close", () => {
      try {
        resolve(JSON.parse(answer));
      } catch {
        reject(new Error(`slirp4netns answered ${JSON.stringify(answer)} to ${JSON.stringify(request)}`));
      }
    });
  });
}

/** Starts the namespace; `dir` holds slirp4netns' API socket and log. Must run as root. */
export async function startNetworkNamespace(dir: string): Promise<NetworkNamespace> {
  const nsenter = requireBinary("nsenter");
  const ipBin = requireBinary("ip");
  const slirpBin = requireBinary("slirp4netns");
  // The holder lives until its stdin closes: when this process ends, however it ends.
  const holder = Bun.spawn(
    [requireBinary("unshare"), "--net", "--", "sh", "-c", `${ipBin} link set lo up && echo up && exec cat >/dev/null`],
    { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
  );
  const first = await holder.stdout.getReader().read();
  if (!new TextDecoder().decode(first.value ?? new Uint8Array()).startsWith("up")) {
    throw new Error(`unshare --net failed: ${await new Response(holder.stderr).text()}`);
  }
  const path = `/proc/${holder.pid}/ns/net`;
  const command = (cmd: string[]) => [nsenter, `--net=${path}`, "--", ...cmd];
  const ip = (args: string[], allowFail = false) => {
    const res = Bun.spawnSync(command([ipBin, ...args]), { stdout: "pipe", stderr: "pipe" });
    if (res.exitCode !== 0 && !allowFail) throw new Error(`ip ${args.join(" ")} (test namespace): ${res.stderr}`);
    return res.stdout.toString();
  };

  const apiSocket = join(dir, "slirp4netns.sock");
  const logFile = join(dir, "slirp4netns.log");
  // The MTU of 65520 lets a build's downloads go in large segments; --disable-host-loopback keeps the
  // host's 127.0.0.1 services out of the namespace's reach (10.0.2.2 is no way back to the host).
  const slirp = Bun.spawn(
    [
      slirpBin,
      "--configure",
      "--mtu=65520",
      "--disable-host-loopback",
      "--api-socket",
      apiSocket,
      String(holder.pid),
      "tap0",
    ],
    { stdout: Bun.file(logFile), stderr: Bun.file(logFile) },
  );
  const stop = async () => {
    await terminate(slirp, 5000);
    holder.kill();
    await holder.exited;
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    const routes = Bun.spawnSync(command([ipBin, "route", "show", "default"]), { stdout: "pipe" }).stdout.toString();
    if (existsSync(apiSocket) && routes.includes("tap0")) break;
    if (slirp.exitCode !== null || Date.now() > deadline) {
      await stop();
      const log = existsSync(logFile) ? await Bun.file(logFile).text() : "";
      throw new Error(`slirp4netns did not configure the test's network namespace:\n${log}`);
    }
    await Bun.sleep(50);
  }

  async function forward(port: number) {
    const answer = await slirpApi(apiSocket, {
      execute: "add_hostfwd",
      arguments: { proto: "tcp", host_addr: "127.0.0.1", host_port: port, guest_port: port },
    });
    if (answer.error) throw new Error(`forwarding host port ${port} into the test's namespace: ${answer.error.desc}`);
  }

  return { path, command, ip, forward, stop };
}
