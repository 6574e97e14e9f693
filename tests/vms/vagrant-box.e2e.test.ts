// The VM machinery on its own, small enough for every run: the Vagrantfile's master brought up by
// vagrant-libvirt on QEMU (software emulation) from the box `scripts/setup --test` built, inside the
// lab's network namespace (tests/vms/vm-lab.ts); what the provisioners rely on checked in the guest;
// the common provisioner run; and everything the lab made removed afterwards. The whole two-VM system
// (tests/vms/two-vms.vm.ts) does not fit this machine's two cores: see tests/vms/README.md.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { VagrantSession } from "./vagrant-session.ts";
import { destroyLab, NAMESPACE, startLab } from "./vm-lab.ts";

const session = new VagrantSession();
let up = false;
let ipForwardBefore = "";

beforeAll(async () => {
  ipForwardBefore = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8");
  await startLab();
}, 120_000);

afterAll(async () => {
  await destroyLab();
  console.log(`vagrant box test:\n  ${session.timings.join("\n  ")}\n  vagrant log: ${session.log}`);
}, 600_000);

test(
  "vagrant up master: the box boots under QEMU's emulation with the Vagrantfile's name and private address",
  async () => {
    await session.vagrant(["up", "master", "--no-provision"], 900_000);
    await session.refreshSshConfig();
    up = true;
    expect((await session.onVm("master", "hostname")).out.trim()).toBe("master");
    expect((await session.onVm("master", "ip -4 -o addr show eth1")).out).toContain("inet 192.168.50.2/24");
    // deploy/vagrant/deploy-stack.sh keys its slower health timing on this
    expect((await session.onVm("master", "systemd-detect-virt --vm")).out.trim()).toBe("qemu");
  },
  1_000_000,
);

test(
  "the synced folder: the checkout without .git, node_modules and .tools, every file 0640 and directory 0750, as VirtualBox shows it",
  async () => {
    expect(up).toBe(true);
    const modes = (await session.onVm(
      "master",
      "stat -c '%a %U %n' /vagrant/Vagrantfile /vagrant/deploy /vagrant/deploy/stack-deploy /vagrant/deploy/vagrant/provision-master.sh",
    )).out.trim().split("\n");
    expect(modes).toEqual([
      "640 vagrant /vagrant/Vagrantfile",
      "750 vagrant /vagrant/deploy",
      "640 vagrant /vagrant/deploy/stack-deploy",
      "640 vagrant /vagrant/deploy/vagrant/provision-master.sh",
    ]);
    const absent = await session.onVm("master", "ls -d /vagrant/.git /vagrant/node_modules /vagrant/.tools 2>&1; true");
    expect(absent.out.match(/No such file or directory/g)?.length).toBe(3);
    // what the rsync brings equals the checkout's top level, less what it leaves out
    const inGuest = (await session.onVm("master", "ls -A /vagrant")).out.trim().split("\n").sort();
    const excluded = new Set([".git", "node_modules", ".tools", "data", ".vagrant"]);
    const onHost = readdirSync(REPO_ROOT).filter((name) => !excluded.has(name)).sort();
    expect(inGuest).toEqual(onHost);
  },
  120_000,
);

test("the box has what the provisioners expect; the common provisioner starts Docker", async () => {
  expect(up).toBe(true);
  const tools = await session.onVm(
    "master",
    "for t in docker exportfs mount.nfs apparmor_parser rsync sudo openssl curl; do command -v $t >/dev/null && echo $t; done",
  );
  expect(tools.out.trim().split("\n")).toEqual([
    "docker",
    "exportfs",
    "mount.nfs",
    "apparmor_parser",
    "rsync",
    "sudo",
    "openssl",
    "curl",
  ]);
  await session.vagrant(["provision", "master", "--provision-with", "common"], 900_000);
  expect((await session.onVm("master", "systemctl is-active docker")).out.trim()).toBe("active");
  expect((await session.onVm("master", "docker info --format '{{.ServerVersion}}'")).out.trim()).toMatch(/^20\.10\./);
  expect((await session.onVm("master", "id -nG vagrant")).out).toContain("docker");
  // Docker's logs rotate: its daemon configuration, written before Docker first started, is in force.
  const daemon = JSON.parse((await session.onVm("master", "cat /etc/docker/daemon.json")).out);
  expect(daemon).toMatchObject({ "log-driver": "json-file", "log-opts": { "max-size": "5m", "max-file": "3" } });
  expect((await session.onVm("master", "docker info --format '{{.LoggingDriver}}'")).out.trim()).toBe("json-file");
}, 1_000_000);

test(
  "destroying the lab leaves nothing: no namespace, daemon, NAT rule, libvirt definition or disk image of its own",
  async () => {
    await destroyLab();
    expect(Bun.spawnSync(["ip", "netns", "list"]).stdout.toString()).not.toContain(NAMESPACE);
    for (const daemon of ["libvirtd", "virtlogd", "dnsmasq", "qemu-system-x86_64"]) {
      expect({ daemon, running: Bun.spawnSync(["pgrep", "-x", daemon]).exitCode === 0 }).toEqual({
        daemon,
        running: false,
      });
    }
    expect(Bun.spawnSync(["iptables", "-t", "nat", "-S"]).stdout.toString()).not.toContain("10.214.0.0/30");
    const images = existsSync("/var/lib/libvirt/images") ? readdirSync("/var/lib/libvirt/images") : [];
    expect(images.filter((f) => f.includes("master") || f.includes("bookworm"))).toEqual([]);
    const domains = existsSync("/etc/libvirt/qemu")
      ? readdirSync("/etc/libvirt/qemu").filter((f) => f.endsWith(".xml"))
      : [];
    expect(domains).toEqual([]);
    expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8")).toBe(ipForwardBefore);
  },
  600_000,
);
