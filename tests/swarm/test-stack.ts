// The stack the swarm test deploys: deploy/stack.yml as `docker stack config` renders it, changed
// only where this machine cannot do what the VMs do. Each change says why. tests/swarm/test-stack.test.ts
// checks that nothing else differs.
//
//   - VIP endpoints and the ingress routing mesh need IPVS, which this kernel lacks: every service on
//     an overlay network gets `endpoint_mode: dnsrr`, and published ports become `mode: host`.
//   - Three replicas of APP 1 on one node cannot share one host port: its port is not published; the
//     test reaches the replicas from a client container on APP 1's overlay network, by name.
//   - There is no NFS server: the shared file store is a plain local volume (one node shares it anyway).
//   - Grafana and cAdvisor have no image here (neither can be built or installed): both are left out
//     (Grafana's configs are still created). APP 2's path then carries the cAdvisor stand-in rule the local
//     pipeline uses (tests/fixtures/remote-write/containers-standin.rules.yml): one more content-addressed
//     config, mounted beside the stack's rule files in /etc/prometheus/rules.
//   - `/` is a private mount here, so node-exporter's rslave bind propagation would fail the task
//     ("not a shared or slave mount"); it binds `/` without propagation.
//   - The Docker socket the read-only API proxy mounts is the test daemon's, not /var/run/docker.sock.
// The rendered file is deployed again by `docker stack deploy`, which interpolates `$` once more: every
// `$` is written as `$$`.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";

// a compose file is free-form
// deno-lint-ignore no-explicit-any
type Any = any;

export interface TestStackOptions {
  /** the private daemon's socket (harness/docker-engine.ts) */
  dockerSocket: string;
  /** rule files (`<name>.rules.yml`) Prometheus loads beside the stack's own */
  extraRules: string[];
}

/** The config an extra rule file becomes: key, name (sha256[:12] of the file, as deploy/stack-deploy names them), target. */
export function extraRuleConfig(file: string): { key: string; name: string; target: string } {
  const rule = basename(file);
  if (!rule.endsWith(".rules.yml")) throw new Error(`${file}: prometheus.yml loads rules/*.rules.yml only`);
  const stem = rule.slice(0, -".rules.yml".length);
  const id = createHash("sha256").update(readFileSync(file)).digest("hex").slice(0, 12);
  return {
    key: `prometheus_rules_${stem.replaceAll(/[^a-z0-9]/g, "_")}`,
    name: `tarsd_prometheus_rules_${stem}_${id}`,
    target: `/etc/prometheus/rules/${rule}`,
  };
}

export const LEFT_OUT = ["grafana", "cadvisor"] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Deep copy with every `$` in a string doubled (compose interpolation escape). */
export function escapeDollars(value: Any): Any {
  // (a function: in a replacement string, "$$" means one "$")
  if (typeof value === "string") return value.replaceAll("$", () => "$$");
  if (Array.isArray(value)) return value.map(escapeDollars);
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [escapeDollars(k), escapeDollars(v)]));
  }
  return value;
}

function overlayNetworks(stack: Any): Set<string> {
  return new Set(
    Object.entries(stack.networks ?? {}).filter(([, n]: [string, Any]) => n?.driver === "overlay").map(([key]) => key),
  );
}

/** Returns a new stack; the input is not changed. */
export function testStack(rendered: Any, opts: TestStackOptions): Any {
  const stack = structuredClone(rendered);
  for (const name of LEFT_OUT) delete stack.services[name];
  delete stack.volumes?.["grafana-data"];
  for (const file of opts.extraRules) {
    const { key, name, target } = extraRuleConfig(file);
    if (stack.configs[key]) throw new Error(`${file}: the stack has a config ${key} already`);
    stack.configs[key] = { name, file };
    stack.services.prometheus.configs.push({ source: key, target, mode: 0o444 });
  }
  const overlays = overlayNetworks(stack);

  for (const service of Object.values(stack.services) as Any[]) {
    const networks = Array.isArray(service.networks) ? service.networks : Object.keys(service.networks ?? {});
    if (networks.some((n: string) => overlays.has(n))) {
      service.deploy = { ...service.deploy, endpoint_mode: "dnsrr" };
    }
    if (service.ports) {
      const replicas = service.deploy?.mode === "global" ? 1 : (service.deploy?.replicas ?? 1);
      if (replicas > 1) delete service.ports;
      else service.ports = service.ports.map((p: Any) => ({ ...p, mode: "host" }));
    }
    for (const volume of service.volumes ?? []) {
      if (volume.type === "bind" && volume.bind?.propagation) {
        delete volume.bind.propagation;
        if (Object.keys(volume.bind).length === 0) delete volume.bind;
      }
      if (volume.type === "bind" && volume.target === "/var/run/docker.sock") volume.source = opts.dockerSocket;
    }
  }
  const files = stack.volumes?.["files-data"];
  if (files) stack.volumes["files-data"] = { driver: "local" };
  return escapeDollars(stack);
}

// `TARSD_STACK_TRANSFORM="bun tests/swarm/test-stack.ts --docker-socket S [--extra-rule F.rules.yml]..." deploy/stack-deploy`:
// `docker stack config` output on stdin, the stack to deploy (JSON, which is YAML) on stdout.
if (import.meta.main) {
  const { values } = (await import("node:util")).parseArgs({
    options: { "docker-socket": { type: "string" }, "extra-rule": { type: "string", multiple: true } },
  });
  const dockerSocket = values["docker-socket"];
  if (!dockerSocket) {
    console.error(
      "usage: bun tests/swarm/test-stack.ts --docker-socket <path> [--extra-rule <file>.rules.yml]...  < rendered-stack.yml",
    );
    process.exit(2);
  }
  const rendered = Bun.YAML.parse(await Bun.stdin.text());
  const extraRules = values["extra-rule"] ?? [];
  process.stdout.write(`${JSON.stringify(testStack(rendered, { dockerSocket, extraRules }), null, 2)}\n`);
}
