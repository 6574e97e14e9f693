// The stack the swarm test deploys: deploy/stack.yml as `docker stack config` renders it, changed
// only where this machine cannot do what the VMs do. Each change says why. tests/swarm/test-stack.test.ts
// checks that nothing else differs.
//
//   - VIP endpoints and the ingress routing mesh need IPVS, which this kernel lacks: every service on
//     an overlay network gets `endpoint_mode: dnsrr`, and published ports become `mode: host`.
//   - Three replicas of APP 1 on one node cannot share one host port: its port is not published; the
//     test reaches the replicas from a client container on APP 1's overlay network, by name.
//   - There is no NFS server: the shared file store is a plain local volume (one node shares it anyway).
//   - Grafana has no image here (it can be neither built nor installed): it is left out (its configs are
//     still created). cAdvisor runs: its stand-in image is cAdvisor's own Go library behind a small main
//     (tests/vms/standins/cadvisor, tests/swarm/standin-images.ts), with the stack's own service
//     definition, so deploy's container rules run on real cAdvisor series.
//   - `/` is a private mount here, so node-exporter's rslave bind propagation would fail the task
//     ("not a shared or slave mount"); it binds `/` without propagation.
//   - The Docker daemon is the test's own (harness/docker-engine.ts), not the node's system one: the
//     socket the read-only API proxy mounts is its socket, not /var/run/docker.sock; cAdvisor, which
//     reaches Docker through the node's /var/run at /var/run/docker.sock, gets `--docker=unix://` the
//     test socket as its /var/run bind shows it (the socket is under /run); cAdvisor's bind of
//     /var/lib/docker, Docker's data root on the node, binds the test daemon's data root instead.
//   - This machine has no udev, so no /dev/disk: a bind of a missing path fails the task. cAdvisor's
//     /dev/disk bind is left out; cAdvisor only names file systems' devices by it (container_fs_*,
//     which no rule uses).
//   - Host ports are not the stack's (InfluxDB 8086 and 8087, Prometheus 9090, node-exporter 9100) but
//     TEST_PORTS: the defaults of services a developer's machine may run (Debian's prometheus and
//     prometheus-node-exporter, an InfluxDB) must not fail the test or be reached by it. Published ports
//     keep their targets; node-exporter, on the host network, listens on its test port, and Prometheus'
//     config (written to the test's directory) scrapes nodes there.
// The rendered file is deployed again by `docker stack deploy`, which interpolates `$` once more: every
// `$` is written as `$$`.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// a compose file is free-form
// deno-lint-ignore no-explicit-any
type Any = any;

export interface TestStackOptions {
  /** the private daemon's socket (harness/docker-engine.ts) */
  dockerSocket: string;
  /** the private daemon's data root (`docker info`'s DockerRootDir), where the node's is /var/lib/docker */
  dockerDataRoot: string;
  /** where the test's Prometheus config is written (it scrapes node-exporter on its test port) */
  workDir: string;
}

/** The stack's host ports and the test's (see above): none is a default port of a common service. */
export const TEST_PORTS: Readonly<Record<number, number>> = { 8086: 18086, 8087: 18087, 9090: 19090, 9100: 19100 };

function testPort(port: number): number {
  const mapped = TEST_PORTS[port];
  if (mapped === undefined) throw new Error(`the stack publishes ${port}, which has no test port in TEST_PORTS`);
  return mapped;
}

/** Prometheus' config with node-exporter's port (`replacement: "$1:9100"`) changed to its test port. */
export function testPrometheusConfig(config: string): string {
  let count = 0;
  const changed = config.replaceAll(/^(\s*replacement: "\$1:)9100(")$/gm, (_, head, tail) => {
    count++;
    return `${head}${testPort(9100)}${tail}`;
  });
  if (count === 0) throw new Error('Prometheus\' config no longer scrapes node-exporter at "$1:9100": where is it?');
  return changed;
}

/** The Docker socket as a container that binds the node's /var/run at /var/run sees it (on the node /var/run is /run). */
export function socketUnderVarRun(socket: string): string {
  const under = /^\/(?:var\/)?run\/(.+)$/.exec(socket)?.[1];
  if (!under) {
    throw new Error(`${socket}: cAdvisor reaches the Docker socket through /var/run, and this one is not there`);
  }
  return `/var/run/${under}`;
}

export const LEFT_OUT = ["grafana"] as const;

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
  // cAdvisor: the test daemon's socket through its /var/run bind; no /dev/disk here (see above).
  const cadvisor = stack.services.cadvisor;
  if (cadvisor) {
    const binds = (cadvisor.volumes ?? []) as Any[];
    if (!binds.some((v) => v.type === "bind" && v.source === "/var/run" && v.target === "/var/run")) {
      throw new Error("cAdvisor no longer binds the node's /var/run: where does it find the Docker socket?");
    }
    cadvisor.command = [...(cadvisor.command ?? []), `--docker=unix://${socketUnderVarRun(opts.dockerSocket)}`];
    cadvisor.volumes = binds.filter((v) => !(v.type === "bind" && v.source === "/dev/disk"));
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
      else {
        service.ports = service.ports.map((p: Any) => ({
          ...p,
          mode: "host",
          published: testPort(Number(p.published)),
        }));
      }
    }
    for (const volume of service.volumes ?? []) {
      if (volume.type === "bind" && volume.bind?.propagation) {
        delete volume.bind.propagation;
        if (Object.keys(volume.bind).length === 0) delete volume.bind;
      }
      // the test daemon's socket and data root, not the node's (see above)
      if (volume.type === "bind" && volume.target === "/var/run/docker.sock") volume.source = opts.dockerSocket;
      if (volume.type === "bind" && volume.source === "/var/lib/docker") volume.source = opts.dockerDataRoot;
    }
  }
  // node-exporter on its test port (host network); Prometheus scrapes it there (see above).
  const nodeExporter = stack.services["node-exporter"];
  if (nodeExporter) {
    const listen = "--web.listen-address=:9100";
    if (!nodeExporter.command?.includes(listen)) throw new Error(`node-exporter no longer has ${listen}`);
    nodeExporter.command = nodeExporter.command.map((arg: string) =>
      arg === listen ? `--web.listen-address=:${testPort(9100)}` : arg
    );
    nodeExporter.healthcheck.test = nodeExporter.healthcheck.test.map((arg: string) =>
      arg.replace("127.0.0.1:9100/", `127.0.0.1:${testPort(9100)}/`)
    );
  }
  const prometheusConfig = stack.configs?.prometheus_config;
  if (prometheusConfig) {
    const file = join(opts.workDir, "prometheus.yml");
    writeFileSync(file, testPrometheusConfig(readFileSync(prometheusConfig.file, "utf8")));
    stack.configs.prometheus_config = { ...prometheusConfig, file };
  }
  const files = stack.volumes?.["files-data"];
  if (files) stack.volumes["files-data"] = { driver: "local" };
  return escapeDollars(stack);
}

// `TARSD_STACK_TRANSFORM="bun tests/swarm/test-stack.ts --docker-socket S --docker-data-root D --work-dir W" deploy/stack-deploy`:
// `docker stack config` output on stdin, the stack to deploy (JSON, which is YAML) on stdout.
if (import.meta.main) {
  const { values } = (await import("node:util")).parseArgs({
    options: {
      "docker-socket": { type: "string" },
      "docker-data-root": { type: "string" },
      "work-dir": { type: "string" },
    },
  });
  const dockerSocket = values["docker-socket"];
  const dockerDataRoot = values["docker-data-root"];
  const workDir = values["work-dir"];
  if (!dockerSocket || !dockerDataRoot || !workDir) {
    console.error(
      "usage: bun tests/swarm/test-stack.ts --docker-socket <path> --docker-data-root <path> --work-dir <dir>  < rendered-stack.yml",
    );
    process.exit(2);
  }
  const rendered = Bun.YAML.parse(await Bun.stdin.text());
  process.stdout.write(`${JSON.stringify(testStack(rendered, { dockerSocket, dockerDataRoot, workDir }), null, 2)}\n`);
}
