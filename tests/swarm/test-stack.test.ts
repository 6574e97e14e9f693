// The swarm test's stack transform changes only what tests/swarm/test-stack.ts lists, and its output is
// a stack file `docker stack config` accepts and reads back (with `$$` read as `$`) as intended.
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireBinary } from "../../harness/binaries.ts";
import {
  escapeDollars,
  LEFT_OUT,
  socketUnderVarRun,
  TEST_PORTS,
  testPrometheusConfig,
  testStack,
} from "./test-stack.ts";
import { renderStack } from "./render-stack.ts";

// a compose file is free-form
// deno-lint-ignore no-explicit-any
type Any = any;

const OPTS = {
  dockerSocket: "/run/tarsd-test/docker.sock",
  dockerDataRoot: "/srv/tarsd-test/docker-data",
  workDir: mkdtempSync(join(tmpdir(), "tarsd-test-stack-work-")),
};
const ENV = { TARSD_IMAGE: "tarsd.local/runtime:0123456789ab" };

test("escapeDollars doubles every $ in keys and values, nothing else", () => {
  expect(escapeDollars({ a: "x$1", "k$": ["$$", 3, null, true] })).toEqual({ a: "x$$1", k$$: ["$$$$", 3, null, true] });
});

test("the test stack differs from deploy/stack.yml only where this machine cannot follow it", () => {
  const rendered = renderStack(ENV);
  const changed = testStack(rendered, OPTS);
  // The input is left as it was.
  expect(renderStack(ENV)).toEqual(rendered);

  expect(Object.keys(changed.services).sort()).toEqual(
    Object.keys(rendered.services).filter((s) => !LEFT_OUT.includes(s as Any)).sort(),
  );
  expect(changed.volumes["files-data"]).toEqual({ driver: "local" });
  expect(changed.volumes["grafana-data"]).toBeUndefined();

  const published: Record<string, number[]> = {};
  for (const [name, service] of Object.entries(changed.services) as [string, Any][]) {
    if (name !== "node-exporter") {
      expect({ name, endpoint: service.deploy.endpoint_mode }).toEqual({ name, endpoint: "dnsrr" });
    }
    for (const port of service.ports ?? []) expect({ name, mode: port.mode }).toEqual({ name, mode: "host" });
    if (service.ports) published[name] = service.ports.map((p: Any) => Number(p.published));
    for (const volume of service.volumes ?? []) expect(volume.bind?.propagation).toBeUndefined();
  }
  // The seed's ports (VM metrics on 8086, container metrics on 8087, Prometheus on 9090) moved off the
  // defaults of services a machine may run; APP 1 is reached over the overlay.
  expect(published).toEqual({ "influxdb-vms": [18086], "influxdb-containers": [18087], prometheus: [19090] });
  expect(Object.fromEntries(
    Object.entries(rendered.services).filter(([, s]: [string, Any]) => s.ports).map((
      [name, s]: [string, Any],
    ) => [name, s.ports.map((p: Any) => Number(p.published))]),
  )).toEqual({
    files: [5001],
    grafana: [3000],
    "influxdb-vms": [8086],
    "influxdb-containers": [8087],
    prometheus: [9090],
  });
  // node-exporter (host network) listens on its test port, and Prometheus scrapes it there.
  expect(changed.services["node-exporter"].command).toContain("--web.listen-address=:19100");
  expect(changed.services["node-exporter"].healthcheck.test).toContain("http://127.0.0.1:19100/metrics");
  const config = readFileSync(changed.configs.prometheus_config.file, "utf8");
  expect(changed.configs.prometheus_config.file).toBe(join(OPTS.workDir, "prometheus.yml"));
  expect(config).toBe(
    readFileSync(rendered.configs.prometheus_config.file, "utf8").replaceAll('"$1:9100"', '"$1:19100"'),
  );
  expect(config.match(/"\$1:19100"/g)?.length).toBe(2);
  const sockets = Object.entries(changed.services).flatMap(([name, s]: [string, Any]) =>
    (s.volumes ?? []).filter((v: Any) => v.target === "/var/run/docker.sock").map((v: Any) => ({
      name,
      source: v.source,
    }))
  );
  expect(sockets).toEqual([{ name: "docker-api", source: OPTS.dockerSocket }]);
  // cAdvisor, global as in the stack: the test daemon's socket through its /var/run bind, the test daemon's
  // data root where the node's /var/lib/docker is, and no /dev/disk (this machine has none).
  const cadvisor = changed.services.cadvisor;
  expect(cadvisor.deploy.mode).toBe("global");
  expect(cadvisor.command.slice(0, -1)).toEqual(rendered.services.cadvisor.command);
  expect(cadvisor.command.at(-1)).toBe("--docker=unix:///var/run/tarsd-test/docker.sock");
  expect(cadvisor.volumes.map((v: Any) => `${v.source}:${v.target}:${v.read_only ? "ro" : "rw"}`)).toEqual([
    "/:/rootfs:ro",
    "/var/run:/var/run:ro",
    "/sys:/sys:ro",
    `${OPTS.dockerDataRoot}:/var/lib/docker:ro`,
  ]);
  expect(rendered.services.cadvisor.volumes.map((v: Any) => v.target)).toContain("/dev/disk");
  // Prometheus loads the stack's own config and rule files, nothing more.
  expect({ ...changed.configs, prometheus_config: rendered.configs.prometheus_config }).toEqual(
    escapeDollars(rendered.configs),
  );
  expect(changed.configs.prometheus_config.name).toBe(rendered.configs.prometheus_config.name);
  expect(changed.services.prometheus.configs).toEqual(rendered.services.prometheus.configs);
  // node-exporter's regex keeps its `$`, escaped for the second interpolation.
  expect(changed.services["node-exporter"].command.join(" ")).toContain("($$|/)");

  // Undo exactly the listed changes: what remains is the rendered stack.
  const undone = structuredClone(changed);
  for (const [name, service] of Object.entries(undone.services) as [string, Any][]) {
    const original = rendered.services[name];
    delete service.deploy.endpoint_mode;
    if (original.deploy.endpoint_mode) service.deploy.endpoint_mode = original.deploy.endpoint_mode;
    if (original.ports) service.ports = original.ports;
    service.volumes = original.volumes === undefined ? undefined : service.volumes.map((v: Any, i: number) => ({
      ...v,
      source: original.volumes[i].source,
      bind: original.volumes[i].bind,
    }));
    for (const v of service.volumes ?? []) if (v.bind === undefined) delete v.bind;
    if (service.volumes === undefined) delete service.volumes;
  }
  undone.services.cadvisor.command.pop();
  undone.services["node-exporter"].command = escapeDollars(rendered.services["node-exporter"].command);
  undone.services["node-exporter"].healthcheck = rendered.services["node-exporter"].healthcheck;
  undone.configs.prometheus_config = escapeDollars(rendered.configs.prometheus_config);
  undone.services.cadvisor.volumes = rendered.services.cadvisor.volumes;
  undone.volumes["files-data"] = rendered.volumes["files-data"];
  const expected = escapeDollars(structuredClone(rendered));
  for (const name of LEFT_OUT) delete expected.services[name];
  delete expected.volumes["grafana-data"];
  expect(undone).toEqual(expected);
});

test("docker stack config reads the rendered test stack back, `$$` as `$`", () => {
  const docker = requireBinary("docker");
  const changed = testStack(renderStack(ENV), OPTS);
  const dir = mkdtempSync(join(tmpdir(), "tarsd-test-stack-"));
  const file = join(dir, "stack.json");
  writeFileSync(file, JSON.stringify(changed));
  const res = Bun.spawnSync([docker, "stack", "config", "-c", file], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(res.stderr.toString()).toBe("");
  const reread = Bun.YAML.parse(res.stdout.toString()) as Any;
  expect(reread.services["node-exporter"].command.join(" ")).toContain("run|var/lib/docker/.+)($|/)");
  expect(reread.services.files.ports).toBeUndefined();
  expect(reread.services["influxdb-vms"].ports[0]).toMatchObject({ mode: "host", published: 18086, target: 8086 });
  expect(reread.services.prometheus.ports[0]).toMatchObject({ mode: "host", published: 19090, target: 9090 });
  expect(reread.services.cadvisor.command.at(-1)).toBe("--docker=unix:///var/run/tarsd-test/docker.sock");
  expect(reread.services.cadvisor.deploy.mode).toBe("global");
});

test("cAdvisor finds the test daemon's socket only under /run (its bind of the node's /var/run)", () => {
  expect(socketUnderVarRun("/run/tarsd-test-docker-42/docker.sock")).toBe("/var/run/tarsd-test-docker-42/docker.sock");
  expect(socketUnderVarRun("/var/run/docker.sock")).toBe("/var/run/docker.sock");
  expect(() => socketUnderVarRun("/tmp/docker.sock")).toThrow("not there");
  expect(() => testStack(renderStack(ENV), { ...OPTS, dockerSocket: "/tmp/docker.sock" })).toThrow("not there");
});

test("test ports are none of the defaults of services a machine may run, and the config change is exact", () => {
  // InfluxDB, Prometheus, node-exporter, Alertmanager, VictoriaMetrics, nginx, Grafana, Docker, swarm.
  const defaults = [80, 443, 3000, 2375, 2376, 2377, 4789, 7946, 8086, 8087, 8088, 8428, 9090, 9093, 9094, 9100];
  expect(Object.values(TEST_PORTS).filter((port) => defaults.includes(port))).toEqual([]);
  expect(testPrometheusConfig('x:\n  - a: b\n    replacement: "$1:9100"\n    y: "$1:9100"\n')).toBe(
    'x:\n  - a: b\n    replacement: "$1:19100"\n    y: "$1:9100"\n',
  );
  expect(() => testPrometheusConfig("scrape_configs: []\n")).toThrow("node-exporter");
});
