// Where the two-VM test runs `vagrant`: a network namespace of its own (so 192.168.50.0/24 and
// libvirt's management network exist only there), with a private libvirtd and virtlogd, and a way
// out to the package registries through NAT on this machine (the master builds the runtime image
// exactly as on a laptop: `bun install` from npm). Vagrant's own state (boxes, machines) lives
// under .tools/vms, never in the user's ~/.vagrant.d or the checkout's .vagrant.
//
// `destroy()` removes everything `startLab()` made, also after a failure or an interrupted run:
// the VMs, the libvirt domains, networks, volumes and pool it defined, the daemons, the namespace,
// the NAT rules. `bun tests/vms/vm-lab.ts up|down` does the same by hand (see tests/vms/README.md).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, requireBinary, SETUP_COMMAND } from "../../harness/binaries.ts";

export const NAMESPACE = "tarsd-vms";
export const BOX_NAME = "tarsd/bookworm";
export const VMS_DIR = join(REPO_ROOT, ".tools", "vms");
export const BOX_FILE = join(VMS_DIR, "tarsd-bookworm.box");
export const VAGRANT_HOME = join(VMS_DIR, "vagrant.d");
const MACHINES_DIR = join(VMS_DIR, "machines");
const STATE_FILE = join(VMS_DIR, "lab-state.json");
// The namespace's way out: a veth pair with addresses no other test uses.
const HOST_LINK = "tarsd-vmh";
const NS_LINK = "tarsd-vmn";
const HOST_ADDRESS = "10.214.0.1";
const NS_ADDRESS = "10.214.0.2";
const LINK_NET = "10.214.0.0/30";

export interface RunResult {
  code: number;
  out: string;
}

/** What existed in libvirt's persistent configuration before the lab, so only the lab's own is removed. */
interface LabState {
  domains: string[];
  networks: string[];
  pools: string[];
  volumes: string[];
  ipForward: string;
}

export const vagrantEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
  PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
  HOME: process.env.HOME ?? "/root",
  VAGRANT_HOME,
  VAGRANT_DOTFILE_PATH: MACHINES_DIR,
  VAGRANT_DEFAULT_PROVIDER: "libvirt",
  VAGRANT_CHECKPOINT_DISABLE: "1",
  VAGRANT_NO_COLOR: "1",
  TARSD_BOX: BOX_NAME,
  // TCG: this machine's /dev/kvm is nested and far slower than software emulation.
  TARSD_LIBVIRT_DRIVER: "qemu",
  LIBVIRT_DEFAULT_URI: "qemu:///system",
  ...extra,
});

function sh(cmd: string[], opts: { allowFail?: boolean; timeoutMs?: number; env?: Record<string, string> } = {}) {
  const res = Bun.spawnSync(cmd, {
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 60_000,
    env: opts.env ?? vagrantEnv(),
    cwd: REPO_ROOT,
  });
  const out = res.stdout.toString() + res.stderr.toString();
  if (res.exitCode !== 0 && !opts.allowFail) {
    throw new Error(`${cmd.join(" ")} exited ${res.exitCode ?? "(killed)"}\n${out.slice(-4000)}`);
  }
  return { code: res.exitCode ?? -1, out };
}

/** A command inside the namespace, streamed to `log` as it runs (a `vagrant up` takes minutes). */
export async function inNamespace(
  cmd: string[],
  opts: { timeoutMs?: number; env?: Record<string, string>; log?: string; allowFail?: boolean } = {},
): Promise<RunResult> {
  const child = Bun.spawn([requireBinary("ip"), "netns", "exec", NAMESPACE, ...cmd], {
    stdout: "pipe",
    stderr: "pipe",
    env: vagrantEnv(opts.env),
    cwd: REPO_ROOT,
    timeout: opts.timeoutMs ?? 600_000,
  });
  let out = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      out += text;
      if (opts.log) appendLog(opts.log, text);
    }
  };
  const [, , code] = await Promise.all([collect(child.stdout), collect(child.stderr), child.exited]);
  const killed = child.signalCode ? `\n(killed by ${child.signalCode}: no exit within ${opts.timeoutMs} ms)` : "";
  if (code !== 0 && !opts.allowFail) {
    throw new Error(`${cmd.join(" ")} exited ${code}${killed}\n${out.slice(-6000)}`);
  }
  return { code, out: out + killed };
}

function appendLog(file: string, text: string) {
  writeFileSync(file, text, { flag: "a" });
}

const virsh = (args: string[], allowFail = true) => sh([requireBinary("virsh"), "-q", ...args], { allowFail });
const names = (out: string) => out.split("\n").map((l) => l.trim()).filter(Boolean);

function snapshot(): Omit<LabState, "ipForward"> {
  const list = (dir: string) =>
    existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".xml")).map((f) => f.slice(0, -4)) : [];
  const images = "/var/lib/libvirt/images";
  return {
    domains: list("/etc/libvirt/qemu"),
    networks: list("/etc/libvirt/qemu/networks"),
    pools: list("/etc/libvirt/storage"),
    volumes: existsSync(images) ? readdirSync(images) : [],
  };
}

function pidOf(file: string): number | undefined {
  const pid = existsSync(file) ? Number(readFileSync(file, "utf8").trim()) : NaN;
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function waitFor(what: string, timeoutMs: number, check: () => boolean) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await Bun.sleep(200);
  }
}

export function requireLabTools(): void {
  if (process.getuid?.() !== 0) throw new Error("the two-VM test runs libvirtd and must run as root (CI does)");
  for (const bin of ["vagrant", "libvirtd", "virtlogd", "virsh", "qemu-system-x86_64", "iptables", "ip", "rsync"]) {
    requireBinary(bin);
  }
  const boxes = sh([requireBinary("vagrant"), "box", "list"], { allowFail: true }).out;
  if (!boxes.includes(BOX_NAME)) {
    throw new Error(`the Vagrant box ${BOX_NAME} is not in ${VAGRANT_HOME}: run \`${SETUP_COMMAND}\` first`);
  }
}

export async function startLab(): Promise<void> {
  requireLabTools();
  if (existsSync(STATE_FILE)) await destroyLab(); // an earlier run was interrupted before it cleaned up
  if (sh(["pgrep", "-x", "libvirtd"], { allowFail: true }).code === 0) {
    throw new Error("a libvirtd already runs on this machine: the two-VM test starts its own; stop that one first");
  }
  mkdirSync(VMS_DIR, { recursive: true });
  const state: LabState = {
    ...snapshot(),
    ipForward: readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim(),
  };
  writeFileSync(STATE_FILE, JSON.stringify(state));

  const ip = requireBinary("ip");
  const iptables = requireBinary("iptables");
  sh([ip, "netns", "add", NAMESPACE]);
  sh([ip, "-n", NAMESPACE, "link", "set", "lo", "up"]);
  sh([ip, "link", "add", HOST_LINK, "type", "veth", "peer", "name", NS_LINK, "netns", NAMESPACE]);
  sh([ip, "addr", "add", `${HOST_ADDRESS}/30`, "dev", HOST_LINK]);
  sh([ip, "link", "set", HOST_LINK, "up"]);
  sh([ip, "-n", NAMESPACE, "addr", "add", `${NS_ADDRESS}/30`, "dev", NS_LINK]);
  sh([ip, "-n", NAMESPACE, "link", "set", NS_LINK, "up"]);
  sh([ip, "-n", NAMESPACE, "route", "add", "default", "via", HOST_ADDRESS]);
  writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
  for (const rule of natRules()) sh([iptables, ...rule.add]);

  // libvirtd writes its pid files and sockets in /run: only one can run, and it is ours.
  sh([ip, "netns", "exec", NAMESPACE, requireBinary("virtlogd"), "-d"]);
  sh([ip, "netns", "exec", NAMESPACE, requireBinary("libvirtd"), "-d"]);
  await waitFor("libvirtd answers", 30_000, () => virsh(["version"]).code === 0);
}

/** MASQUERADE for the namespace's traffic out, and FORWARD rules for it (Docker may set FORWARD to DROP). */
function natRules(): { add: string[]; del: string[] }[] {
  const rules = [
    ["-t", "nat", "POSTROUTING", "-s", LINK_NET, "!", "-o", HOST_LINK, "-j", "MASQUERADE"],
    ["-t", "filter", "FORWARD", "-i", HOST_LINK, "-j", "ACCEPT"],
    ["-t", "filter", "FORWARD", "-o", HOST_LINK, "-m", "state", "--state", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
  ];
  return rules.map(([flag, table, chain, ...rest]) => ({
    add: [flag!, table!, "-I", chain!, ...rest],
    del: [flag!, table!, "-D", chain!, ...rest],
  }));
}

/** Removes everything the lab made; safe to call twice and after a partial start. */
export async function destroyLab(): Promise<void> {
  if (!existsSync(STATE_FILE)) return;
  const before = JSON.parse(readFileSync(STATE_FILE, "utf8")) as LabState;
  const ip = requireBinary("ip");
  const libvirtUp = virsh(["version"]).code === 0;
  if (libvirtUp && existsSync(MACHINES_DIR)) {
    await inNamespace([requireBinary("vagrant"), "destroy", "-f"], { timeoutMs: 300_000, allowFail: true });
  }
  if (libvirtUp) {
    for (const domain of names(virsh(["list", "--all", "--name"]).out)) {
      if (before.domains.includes(domain)) continue;
      virsh(["destroy", domain]);
      virsh(["undefine", domain, "--nvram"]);
    }
    for (const network of names(virsh(["net-list", "--all", "--name"]).out)) {
      virsh(["net-destroy", network]); // stops its dnsmasq, also for networks defined before
      if (!before.networks.includes(network)) virsh(["net-undefine", network]);
    }
    for (const pool of names(virsh(["pool-list", "--all", "--name"]).out)) {
      for (const line of names(virsh(["vol-list", pool]).out)) {
        const volume = line.split(/\s+/)[0] ?? "";
        if (volume && !before.volumes.includes(volume)) virsh(["vol-delete", "--pool", pool, volume]);
      }
      if (!before.pools.includes(pool)) {
        virsh(["pool-destroy", pool]);
        virsh(["pool-undefine", pool]);
      }
    }
  }
  for (const pidFile of ["/run/libvirtd.pid", "/run/virtlogd.pid"]) {
    const pid = pidOf(pidFile);
    if (pid) {
      try {
        process.kill(pid, "SIGTERM");
      } catch { /* gone already */ }
      await waitFor(`${pidFile} process ends`, 20_000, () => !existsSync(`/proc/${pid}`)).catch(() => {
        try {
          process.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      });
    }
  }
  // Whatever still runs in the namespace (a dnsmasq or qemu libvirt lost track of).
  for (const pid of names(sh([ip, "netns", "pids", NAMESPACE], { allowFail: true }).out)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch { /* gone */ }
  }
  sh([ip, "netns", "del", NAMESPACE], { allowFail: true });
  sh([ip, "link", "del", HOST_LINK], { allowFail: true });
  const iptables = requireBinary("iptables");
  for (const rule of natRules()) {
    while (sh([iptables, ...rule.del], { allowFail: true }).code === 0) { /* remove every copy */ }
  }
  writeFileSync("/proc/sys/net/ipv4/ip_forward", before.ipForward);
  sh(["rm", "-rf", MACHINES_DIR, STATE_FILE]);
}

if (import.meta.main) {
  const command = process.argv[2];
  if (command === "up") {
    await startLab();
    console.log(
      `lab up: run vagrant as\n  ip netns exec ${NAMESPACE} env ${
        Object.entries(vagrantEnv()).filter(([k]) => k !== "PATH" && k !== "HOME").map(([k, v]) => `${k}=${v}`).join(
          " ",
        )
      } vagrant up`,
    );
  } else if (command === "down") {
    await destroyLab();
    console.log("lab down");
  } else {
    console.error("usage: bun tests/vms/vm-lab.ts up|down");
    process.exit(2);
  }
}
