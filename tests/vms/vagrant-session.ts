// `vagrant` and ssh into its VMs from inside the lab's namespace (tests/vms/vm-lab.ts), for the VM
// tests: every vagrant command's output goes to one log (its path is printed at the end), its
// duration to a list of timings, and ssh uses what `vagrant ssh-config` gives (much faster than
// `vagrant ssh`, which starts Vagrant each time).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireBinary } from "../../harness/binaries.ts";
import { inNamespace, type RunResult } from "./vm-lab.ts";

export const minutes = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;
const quote = (s: string) => `'${s.replaceAll("'", `'"'"'`)}'`;

export class VagrantSession {
  readonly work = mkdtempSync(join(tmpdir(), "tarsd-vms-"));
  readonly log = join(this.work, "vagrant.log");
  readonly timings: string[] = [];
  private sshConfig = join(this.work, "ssh-config");

  /** `vagrant <args>`; throws with the end of its output unless it exits 0 (or `allowFail`). */
  async vagrant(args: string[], timeoutMs = 1_800_000, allowFail = false): Promise<RunResult> {
    writeFileSync(this.log, `\n$ vagrant ${args.join(" ")}\n`, { flag: "a" });
    const t0 = Date.now();
    const res = await inNamespace([requireBinary("vagrant"), ...args], { timeoutMs, log: this.log, allowFail });
    this.timings.push(`vagrant ${args.join(" ")}: ${minutes(Date.now() - t0)}`);
    return res;
  }

  /** Reads the running VMs' ssh addresses and keys again (after an up: a new VM has new ones). */
  async refreshSshConfig(machines = ["master", "slave"]): Promise<void> {
    const configs: string[] = [];
    for (const machine of machines) {
      const res = await this.vagrant(["ssh-config", machine], 120_000, true); // fails for a machine not running
      if (res.code === 0) configs.push(res.out);
    }
    if (configs.length === 0) throw new Error(`none of ${machines.join(", ")} runs (see ${this.log})`);
    writeFileSync(this.sshConfig, configs.join("\n"));
  }

  /** `command` as root on a VM (bash -c). */
  async onVm(vm: string, command: string, opts: { allowFail?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
    return await inNamespace(
      [
        "ssh",
        "-F",
        this.sshConfig,
        "-o",
        "ConnectTimeout=10",
        "-o",
        "BatchMode=yes",
        vm,
        `sudo bash -c ${quote(command)}`,
      ],
      { timeoutMs: opts.timeoutMs ?? 120_000, allowFail: opts.allowFail },
    );
  }
}
