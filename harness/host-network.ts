// What a container engine could change in the host's network namespace, as text to compare before and
// after: the iptables and ip6tables rules of every table (chains, policies, rules; no counters), the
// interfaces and their addresses, routes and policy rules, and the forwarding and bridge-netfilter
// switches. A system Docker keeps its own there: the test's engine must leave all of it as it was.
import { existsSync, readFileSync } from "node:fs";
import { requireBinary } from "./binaries.ts";

function output(cmd: string[]): string {
  const res = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  // A table the kernel does not have reads as its error: the same before and after.
  return res.exitCode === 0 ? res.stdout.toString() : `(exit ${res.exitCode}: ${res.stderr.toString().trim()})`;
}

const sysctl = (path: string) => (existsSync(path) ? readFileSync(path, "utf8").trim() : "(absent)");

/** Section name → its text. */
export function hostNetworkState(): Record<string, string> {
  const ip = requireBinary("ip");
  const state: Record<string, string> = {};
  for (const tool of ["iptables", "ip6tables"]) {
    for (const table of ["filter", "nat", "mangle", "raw"]) {
      state[`${tool} -t ${table}`] = output([requireBinary(tool), "-w", "-t", table, "-S"]);
    }
  }
  // -br: name, state and addresses, without counters or the changing flags of a busy link.
  state["links"] = output([ip, "-br", "link", "show"]);
  state["addresses"] = output([ip, "-br", "address", "show"]);
  state["routes"] = output([ip, "route", "show", "table", "all"]);
  state["routes6"] = output([ip, "-6", "route", "show", "table", "all"]);
  state["rules"] = output([ip, "rule", "show"]);
  state["net.ipv4.ip_forward"] = sysctl("/proc/sys/net/ipv4/ip_forward");
  state["net.bridge.bridge-nf-call-iptables"] = sysctl("/proc/sys/net/bridge/bridge-nf-call-iptables");
  return state;
}
