// Every deploy file is checked by the real tool that reads it: docker (stack config), vagrant,
// shellcheck, promtool (config, rules, and the rule unit tests).
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { REPO_ROOT, requireBinary } from "../../harness/binaries.ts";
import { repositoryFunctionBundles } from "../../harness/bundles.ts";
import { renderAlertmanagerConfig } from "../../harness/alertmanager.ts";
import { sha256Of } from "../../harness/bundles.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import {
  defaultAlertmanagerConfig,
  fileConfigId,
  monitoringFiles,
  renderStack,
  stackEnv,
} from "../swarm/render-stack.ts";

const DEPLOY = join(REPO_ROOT, "deploy");
const RULES_DIR = join(DEPLOY, "prometheus", "rules");
const RULE_TESTS_DIR = join(DEPLOY, "prometheus", "tests");

function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const proc = Bun.spawnSync(cmd, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  return { code: proc.exitCode, out: proc.stdout.toString(), err: proc.stderr.toString() };
}

function files(dir: string, suffix: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(suffix)).sort().map((f) => join(dir, f));
}

const STACK_ENV = stackEnv();

// the parsed compose file is free-form
// deno-lint-ignore no-explicit-any
type Any = any;

test("docker stack config accepts deploy/stack.yml", () => {
  const stack = renderStack();
  const services = stack.services as Record<string, Any>;
  expect(Object.keys(services).sort()).toEqual(
    [
      "alertmanager",
      "cadvisor",
      "docker-api",
      "files",
      "grafana",
      "influxdb-containers",
      "influxdb-vms",
      "node-exporter",
      "prometheus",
      "remote-write-containers",
      "remote-write-vms",
    ].sort(),
  );
  // APP 1: 3 replicas on :5001, the two functions, shared NFS volume.
  const files = services.files;
  expect(files.deploy.replicas).toBe(3);
  expect(files.environment.FUNCTIONS).toBe("upload,download");
  // The historic `curl -F file=@f HOST:5001/upload` keeps working: no token unless TARSD_APP1_AUTH=1.
  expect(files.environment.AUTH_TOKEN_FILE ?? "").toBe("");
  expect(files.ports.some((p: Any) => Number(p.published) === 5001 && p.target === 5001)).toBe(true);
  expect(stack.volumes["files-data"].driver_opts.type).toBe("nfs");
  // Read-after-write across nodes (no lookup or attribute cache) and no replica frozen on a dead server.
  const nfs = String(stack.volumes["files-data"].driver_opts.o).split(",");
  expect(nfs).toEqual(expect.arrayContaining(["soft", "lookupcache=none", "actimeo=0"]));
  expect(nfs).not.toContain("hard");
  expect(services["remote-write-containers"].environment.FUNCTIONS).toBe("remote-write");
  expect(services["remote-write-vms"].environment.FUNCTIONS).toBe("remote-write");
  // One image for APP 1, 2, 3.
  for (const s of ["files", "remote-write-containers", "remote-write-vms"]) {
    expect(services[s].image).toBe(STACK_ENV.TARSD_IMAGE);
    expect(services[s].deploy.labels["prometheus.job"]).toBe("functions");
    expect(services[s].deploy.update_config.order).toBe("start-first");
    expect(services[s].deploy.update_config.failure_action).toBe("rollback");
  }
  // Every service has a health check and resource limits; rolling updates roll back on failure.
  for (const [name, s] of Object.entries(services)) {
    expect({ name, healthcheck: Boolean(s.healthcheck?.test) }).toEqual({ name, healthcheck: true });
    expect({ name, memory: Boolean(s.deploy?.resources?.limits?.memory) }).toEqual({ name, memory: true });
    expect({ name, failure: s.deploy?.update_config?.failure_action }).toEqual({ name, failure: "rollback" });
  }
  expect(services["node-exporter"].deploy.mode).toBe("global");
  expect(services.cadvisor.deploy.mode).toBe("global");
  expect(services.cadvisor.image).toMatch(/^ghcr\.io\/google\/cadvisor:v0\.(5[4-9]|[6-9]\d)/);
  expect(stack.networks.hostnet).toEqual({ name: "host", external: true });
  expect(services["influxdb-containers"].image).toBe("influxdb:2.7");
  expect(services["influxdb-vms"].image).toBe("influxdb:2.7");
  // Functions ship as bundles in content-addressed configs: the names deploy/redeploy creates.
  expect(stack.configs.fn_upload.name).toBe(`tarsd_fn_upload_${STACK_ENV.FN_UPLOAD_ID}`);
  expect(stack.configs.fn_upload.file).toBe(join(STACK_ENV.TARSD_BUNDLES_DIR!, "upload.js"));
  expect(stack.configs.fn_remote_write.name).toBe(`tarsd_fn_remote-write_${STACK_ENV.FN_REMOTE_WRITE_ID}`);
  expect(files.configs.map((c: Any) => c.target).sort()).toEqual([
    "/app/functions/download.js",
    "/app/functions/upload.js",
  ]);
  for (const s of ["remote-write-containers", "remote-write-vms"]) {
    expect(services[s].configs.map((c: Any) => c.target)).toEqual(["/app/functions/remote-write.js"]);
  }
  for (const secret of Object.values(stack.secrets as Record<string, Any>)) expect(secret.external).toBe(true);
}, 60_000);

test(
  "Prometheus' and Grafana's files ship as configs named after their sha256, none as a bind mount of the checkout",
  () => {
    const stack = renderStack();
    const services = stack.services as Record<string, Any>;
    /** A service's configs as `target -> {file under deploy/, name, mode}`. */
    const mounted = (service: string) =>
      Object.fromEntries(
        (services[service].configs ?? []).map((c: Any) => {
          const config = stack.configs[c.source];
          return [c.target, { file: relative(DEPLOY, config.file), name: config.name, mode: c.mode }];
        }),
      );
    const expected = (prefix: string, path: string, stem: string) => ({
      file: path,
      name: `${prefix}${stem}_${fileConfigId(path)}`,
      mode: 0o444,
    });
    // prometheus.yml loads rules/*.rules.yml: every rule file at /etc/prometheus/rules/<its name>.
    const rules = readdirSync(RULES_DIR).filter((f) => f.endsWith(".rules.yml")).sort();
    expect(rules.length).toBe(4);
    expect(mounted("prometheus")).toEqual({
      "/etc/prometheus/prometheus.yml": expected("tarsd_prometheus_", "prometheus/prometheus.yml", "config"),
      ...Object.fromEntries(rules.map((rule) => [
        `/etc/prometheus/rules/${rule}`,
        expected("tarsd_prometheus_rules_", `prometheus/rules/${rule}`, rule.replace(".rules.yml", "")),
      ])),
    });
    // Grafana runs as uid 472: 0444 lets it read them.
    const dashboards = readdirSync(join(DEPLOY, "grafana", "dashboards")).sort();
    expect(dashboards).toEqual(["containers.json", "functions.json", "vms.json"]);
    expect(mounted("grafana")).toEqual({
      "/etc/grafana/provisioning/datasources/datasources.yml": expected(
        "tarsd_grafana_",
        "grafana/provisioning/datasources/datasources.yml",
        "datasources",
      ),
      "/etc/grafana/provisioning/dashboards/dashboards.yml": expected(
        "tarsd_grafana_",
        "grafana/provisioning/dashboards/dashboards.yml",
        "dashboard_provider",
      ),
      ...Object.fromEntries(dashboards.map((d) => [
        `/etc/grafana/dashboards/${d}`,
        expected("tarsd_grafana_dashboard_", `grafana/dashboards/${d}`, d.replace(".json", "")),
      ])),
    });
    // The provider reads the directory the dashboards are mounted in; the home dashboard is one of them.
    const provider = Bun.YAML.parse(
      readFileSync(join(DEPLOY, "grafana", "provisioning", "dashboards", "dashboards.yml"), "utf8"),
    ) as Any;
    expect(provider.providers[0].options.path).toBe("/etc/grafana/dashboards");
    expect(mounted("grafana")[services.grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH]).toBeDefined();
    // Every file under deploy/prometheus and deploy/grafana is shipped, but the rule unit tests.
    const shipped = new Set(Object.values(stack.configs as Record<string, Any>).map((c) => relative(DEPLOY, c.file)));
    expect(monitoringFiles().filter((f) => !shipped.has(f) && !f.startsWith("prometheus/tests/"))).toEqual([]);

    // No bind mount of the checkout is left: only the host paths the exporters and the Docker API read.
    expect(readFileSync(join(DEPLOY, "stack.yml"), "utf8")).not.toContain("TARSD_ROOT");
    const binds = Object.entries(services).flatMap(([name, s]) =>
      (s.volumes ?? []).filter((v: Any) => v.type === "bind").map((v: Any) => `${name}:${v.source}`)
    );
    expect(binds.sort()).toEqual([
      "cadvisor:/",
      "cadvisor:/dev/disk",
      "cadvisor:/sys",
      "cadvisor:/var/lib/docker",
      "cadvisor:/var/run",
      "docker-api:/var/run/docker.sock",
      "node-exporter:/",
    ]);
  },
  60_000,
);

test(
  "APP 1 is on a network of its own with Prometheus; every scraped task is kept on exactly one network, one Prometheus is on",
  () => {
    const stack = renderStack();
    const services = stack.services as Record<string, Any>;
    const networkNames = (service: string): string[] =>
      Object.keys(services[service].networks ?? {}).map((key) => stack.networks[key].name).sort();
    expect(stack.networks.files).toEqual({ name: "tarsd_files", driver: "overlay", attachable: true });
    expect(networkNames("files")).toEqual(["tarsd_alerts", "tarsd_files"]);
    expect(networkNames("prometheus")).toEqual(["tarsd_docker_api", "tarsd_files", "tarsd_monitoring"]);
    // Only Prometheus shares APP 1's network; the remote-write services and InfluxDB stay on monitoring.
    expect(Object.keys(services).filter((name) => networkNames(name).includes("tarsd_files")).sort()).toEqual([
      "files",
      "prometheus",
    ]);
    // APP 1 reaches Alertmanager (GET /alerts) on a network only the two share, with no way out.
    expect(stack.networks.alerts).toEqual({ name: "tarsd_alerts", driver: "overlay", internal: true });
    expect(Object.keys(services).filter((name) => networkNames(name).includes("tarsd_alerts")).sort()).toEqual([
      "alertmanager",
      "files",
    ]);
    for (
      const name of ["remote-write-containers", "remote-write-vms", "influxdb-containers", "influxdb-vms", "grafana"]
    ) {
      expect({ name, networks: networkNames(name) }).toEqual({ name, networks: ["tarsd_monitoring"] });
    }

    // Swarm discovery gives a task one target per network: each job keeps the network(s) its relabelling
    // names, and every service it scrapes must be on exactly one of those, and Prometheus on it too.
    const prom = Bun.YAML.parse(readFileSync(join(DEPLOY, "prometheus", "prometheus.yml"), "utf8")) as Any;
    const keptNetworks = (job: string): RegExp => {
      const keep = prom.scrape_configs.find((c: Any) => c.job_name === job).relabel_configs.filter((r: Any) =>
        r.action === "keep" && r.source_labels?.join() === "__meta_dockerswarm_network_name"
      );
      expect({ job, keeps: keep.length }).toEqual({ job, keeps: 1 });
      return new RegExp(`^(?:${keep[0].regex})$`); // Prometheus anchors its regexes
    };
    for (const job of ["functions", "cadvisor"]) {
      const kept = keptNetworks(job);
      const scraped = Object.keys(services).filter((name) => services[name].deploy?.labels?.["prometheus.job"] === job);
      expect(scraped.length).toBeGreaterThan(0);
      for (const name of scraped) {
        const on = networkNames(name).filter((n) => kept.test(n));
        expect({ job, name, on: on.length }).toEqual({ job, name, on: 1 });
        expect({ job, name, prometheus: networkNames("prometheus").includes(on[0] ?? "") }).toEqual({
          job,
          name,
          prometheus: true,
        });
      }
    }
    expect(keptNetworks("functions").test("tarsd_files")).toBe(true);
    expect(keptNetworks("functions").test("ingress")).toBe(false);
  },
  60_000,
);

test(
  "deploy/README.md names every service that can reach the Docker socket: a read-only bind does not stop a connect",
  () => {
    const stack = renderStack();
    const services = stack.services as Record<string, Any>;
    const SOCKETS = ["/var/run/docker.sock", "/run/docker.sock"];
    const exposes = (source: string) =>
      SOCKETS.some((socket) => socket === source || socket.startsWith(source === "/" ? "/" : `${source}/`));
    // The socket is root:docker 0660; these images run as a user outside both (their Dockerfile's USER).
    const UNPRIVILEGED_IMAGES = [/^prom\/node-exporter:/];
    const runsAsRoot = (s: Any) =>
      s.user === "root" || s.user === "0" ||
      (s.user === undefined && !UNPRIVILEGED_IMAGES.some((r) => r.test(s.image)) &&
        s.image !== STACK_ENV.TARSD_IMAGE); // the runtime image's USER is bun
    const reach = Object.entries(services).filter(([, s]) =>
      (s.volumes ?? []).some((v: Any) => v.type === "bind" && exposes(v.source)) && runsAsRoot(s)
    ).map(([name]) => name).sort();
    expect(reach).toEqual(["cadvisor", "docker-api"]);
    expect(readFileSync(join(DEPLOY, "Dockerfile"), "utf8")).toMatch(/^USER bun$/m);

    const readme = readFileSync(join(DEPLOY, "README.md"), "utf8");
    const paragraph = /^Who can reach the Docker socket[^]*?\n\n/m.exec(readme)?.[0] ?? "";
    expect(paragraph).toContain("`docker-api`");
    expect(paragraph).toContain("cAdvisor");
    expect(paragraph).toContain("read-only mount does not stop a");
    expect(readme).not.toMatch(/only (service that )?(`docker-api` )?mounts the Docker socket/);
  },
  60_000,
);

test("deploy/README.md says which secrets become environment values: Grafana's InfluxDB read tokens, no others", () => {
  const services = renderStack().services as Record<string, Any>;
  // A secret read into the environment: an entrypoint or command that `cat`s /run/secrets.
  const exporting = Object.entries(services).filter(([, s]) =>
    JSON.stringify([s.entrypoint, s.command]).includes("cat /run/secrets/")
  ).map(([name]) => name);
  expect(exporting).toEqual(["grafana"]);
  expect(services.grafana.entrypoint.join(" ")).toContain("export INFLUX_CONTAINERS_TOKEN=");
  const readme = readFileSync(join(DEPLOY, "README.md"), "utf8");
  expect(readme).not.toContain("never as plain environment values");
  expect(readme).toMatch(/those two are plain\s+environment values of the Grafana process/);
}, 60_000);

test("Debian 12's docker CLI (docker.io 20.10, the one the VMs run) reads deploy/stack.yml", () => {
  // scripts/setup installs Debian's docker.io; its CLI is /usr/bin/docker (another may come first on PATH).
  const docker = "/usr/bin/docker";
  const version = run([docker, "--version"]);
  expect({ docker, version: version.out }).toEqual({ docker, version: expect.stringContaining("version 20.10.") });
  // 20.10 has no `docker stack config`: `stack deploy` loads and checks the whole file first, then asks
  // the daemon, so getting as far as the (missing) daemon means it took the file.
  const res = run([docker, "stack", "deploy", "-c", join(DEPLOY, "stack.yml"), "tarsd"], {
    env: { ...STACK_ENV, DOCKER_HOST: "unix:///nonexistent/docker.sock" },
  });
  expect(res.err).not.toContain("unsupported Compose file version");
  expect(res.err).toContain("Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock");
}, 60_000);

test("docker stack config refuses to deploy without the function bundles and the content ids", () => {
  const docker = requireBinary("docker");
  const res = run([docker, "stack", "config", "-c", join(DEPLOY, "stack.yml")]);
  expect(res.code).not.toBe(0);
  expect(res.err).toMatch(/(TARSD_BUNDLES_DIR|FN_(UPLOAD|DOWNLOAD|REMOTE_WRITE)_ID|CONFIG_ID_[A-Z_]+) is missing/);
  const { FN_UPLOAD_ID: _, ...withoutUploadId } = STACK_ENV;
  const withoutId = run([docker, "stack", "config", "-c", join(DEPLOY, "stack.yml")], { env: withoutUploadId });
  expect(withoutId.code).not.toBe(0);
  expect(withoutId.err).toContain("FN_UPLOAD_ID is missing");
  const { CONFIG_ID_PROMETHEUS_RULES_VMS_RULES_YML: __, ...withoutRulesId } = STACK_ENV;
  const withoutRules = run([docker, "stack", "config", "-c", join(DEPLOY, "stack.yml")], { env: withoutRulesId });
  expect(withoutRules.code).not.toBe(0);
  expect(withoutRules.err).toContain("CONFIG_ID_PROMETHEUS_RULES_VMS_RULES_YML is missing");
}, 60_000);

test("vagrant validate --ignore-provider accepts the Vagrantfile", () => {
  const vagrant = requireBinary("vagrant");
  const res = run([vagrant, "validate", "--ignore-provider"], { env: { VAGRANT_CHECKPOINT_DISABLE: "1" } });
  expect(res.out + res.err).toContain("Vagrantfile validated successfully");
  expect(res.code).toBe(0);
}, 60_000);

test("shellcheck passes on every deploy script and the swarm test's stand-in scripts", () => {
  const shellcheck = requireBinary("shellcheck");
  const scripts: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (readFileSync(path, "utf8").startsWith("#!/usr/bin/env bash")) scripts.push(path);
    }
  };
  walk(DEPLOY);
  expect(scripts.length).toBeGreaterThanOrEqual(8);
  for (const script of scripts) {
    expect(readFileSync(script, "utf8")).toContain("set -euo pipefail");
  }
  // The swarm test's stand-in images run scripts of their own (/bin/bash and /bin/sh in the image).
  const standins = join(REPO_ROOT, "tests", "swarm", "standins", "influxdb");
  const standinScripts = readdirSync(standins).map((f) => join(standins, f)).filter((f) =>
    readFileSync(f, "utf8").startsWith("#!/bin/")
  );
  expect(standinScripts.length).toBe(2);
  const res = run([shellcheck, "--severity=style", ...scripts, ...standinScripts]);
  expect(res.out + res.err).toBe("");
  expect(res.code).toBe(0);
}, 60_000);

test("promtool check config and check rules", () => {
  const promtool = requireBinary("promtool");
  const config = run([promtool, "check", "config", join(DEPLOY, "prometheus", "prometheus.yml")]);
  expect(config.out + config.err).toContain("SUCCESS");
  expect(config.code).toBe(0);
  const ruleFiles = files(RULES_DIR, ".rules.yml");
  expect(ruleFiles.map((f) => f.split("/").pop())).toEqual([
    "alerts.rules.yml",
    "containers.rules.yml",
    "functions.rules.yml",
    "vms.rules.yml",
  ]);
  const rules = run([promtool, "check", "rules", ...ruleFiles]);
  expect(rules.code).toBe(0);
}, 60_000);

test("promtool test rules: unit tests pass and cover every recording and alert rule", () => {
  const promtool = requireBinary("promtool");
  const testFiles = files(RULE_TESTS_DIR, ".test.yml");
  const res = run([promtool, "test", "rules", ...testFiles]);
  expect(res.out + res.err).not.toContain("FAILED");
  expect(res.code).toBe(0);

  const tested = new Set<string>();
  for (const file of testFiles) {
    const doc = Bun.YAML.parse(readFileSync(file, "utf8")) as Any;
    for (const t of doc.tests ?? []) {
      for (const e of t.promql_expr_test ?? []) tested.add(String(e.expr).trim());
      for (const a of t.alert_rule_test ?? []) if ((a.exp_alerts ?? []).length > 0) tested.add(`ALERT ${a.alertname}`);
    }
  }
  const untested: string[] = [];
  for (const file of files(RULES_DIR, ".rules.yml")) {
    const doc = Bun.YAML.parse(readFileSync(file, "utf8")) as Any;
    for (const group of doc.groups) {
      for (const rule of group.rules) {
        const key = rule.record ? String(rule.record) : `ALERT ${rule.alert}`;
        if (!tested.has(key)) untested.push(key);
      }
    }
  }
  expect(untested).toEqual([]);
}, 60_000);

test("APP 2 and APP 3 keep their spool on a named volume at DATA_DIR that the image's user owns, on the node it lives on", () => {
  // Read as written (no variable in these keys): a local volume stays on its node, so the service is pinned
  // to one; an empty named volume takes the owner of the image's directory it is mounted on.
  const stack = Bun.YAML.parse(readFileSync(join(DEPLOY, "stack.yml"), "utf8")) as Any;
  const dockerfile = readFileSync(join(DEPLOY, "Dockerfile"), "utf8");
  const volumes = new Set<string>();
  for (const name of ["remote-write-containers", "remote-write-vms"]) {
    const s = stack.services[name];
    const dataDir = s.environment.DATA_DIR;
    expect({ name, spoolDir: s.environment.REMOTE_WRITE_SPOOL_DIR }).toEqual({ name, spoolDir: undefined });
    const mount = (s.volumes ?? []).find((v: Any) => v.target === dataDir);
    expect({ name, type: mount?.type }).toEqual({ name, type: "volume" });
    expect({ name, local: mount.source in stack.volumes && !stack.volumes[mount.source]?.driver_opts }).toEqual({
      name,
      local: true,
    });
    volumes.add(mount.source);
    expect({ name, constraints: s.deploy.placement?.constraints }).toEqual({
      name,
      constraints: ["node.role == manager"],
    });
    const maxBytes = Number(s.environment.REMOTE_WRITE_SPOOL_MAX_BYTES);
    expect({ name, maxBytes: Number.isInteger(maxBytes) && maxBytes > 0 && maxBytes <= 1024 ** 3 }).toEqual({
      name,
      maxBytes: true,
    });
    expect(dockerfile).toContain(`chown -R bun:bun ${dataDir}\n`);
    expect(dockerfile).toMatch(new RegExp(`^RUN mkdir -p ${dataDir}[ /]`, "m"));
  }
  expect(volumes.size).toBe(2); // a volume each
});

test("remote_write splits the series like the old setup: job_container:* to APP 2, job_instance:* to APP 3", () => {
  const prom = Bun.YAML.parse(readFileSync(join(DEPLOY, "prometheus", "prometheus.yml"), "utf8")) as Any;
  const targets = prom.remote_write.map((rw: Any) => ({
    url: rw.url,
    keep: rw.write_relabel_configs.find((r: Any) => r.action === "keep")?.regex,
    token: rw.authorization?.credentials_file,
  }));
  expect(targets).toEqual([
    {
      url: "http://remote-write-containers:5001/api/v1/write",
      keep: "job_container:.+",
      token: "/run/secrets/tarsd_rw_containers_token",
    },
    {
      url: "http://remote-write-vms:5001/api/v1/write",
      keep: "job_instance:.+",
      token: "/run/secrets/tarsd_rw_vms_token",
    },
  ]);
  const jobs = prom.scrape_configs.map((s: Any) => s.job_name);
  expect(jobs).toEqual(["prometheus", "node", "cadvisor", "functions"]);
  for (const s of prom.scrape_configs.slice(1)) expect(s.dockerswarm_sd_configs).toBeDefined();
}, 60_000);

test("with TARSD_APP1_AUTH=1 (via stack-deploy's variable) APP 1 reads its token from the secret", () => {
  const docker = requireBinary("docker");
  const res = run([docker, "stack", "config", "-c", join(DEPLOY, "stack.yml")], {
    env: { ...STACK_ENV, TARSD_AUTH_TOKEN_FILE: "/run/secrets/tarsd_auth_token" },
  });
  expect(res.code).toBe(0);
  const stack = Bun.YAML.parse(res.out) as Any;
  expect(stack.services.files.environment.AUTH_TOKEN_FILE).toBe("/run/secrets/tarsd_auth_token");
  expect(stack.services.files.secrets.map((s: Any) => s.source)).toContain("tarsd_auth_token");
}, 60_000);

test("every function bundle fits in a docker config (500 KB), the way deploy/redeploy ships it", () => {
  const { functionsDir } = repositoryFunctionBundles();
  const sizes = readdirSync(functionsDir).map((f) => ({ file: f, bytes: statSync(join(functionsDir, f)).size }));
  expect(sizes.map((s) => s.file).sort()).toEqual(
    readdirSync(join(REPO_ROOT, "functions")).map((f) => f.replace(/\.ts$/, ".js")).sort(),
  );
  for (const { file, bytes } of sizes) expect({ file, fits: bytes <= 500 * 1000 }).toEqual({ file, fits: true });
}, 60_000);

test(
  "health-check timing: each service's own by default; TARSD_HEALTH_* set one for every service (VMs under emulation)",
  () => {
    const own = renderStack();
    expect(own.services.files.healthcheck).toMatchObject({ interval: "5s", timeout: "3s", start_period: "15s" });
    expect(own.services.cadvisor.healthcheck).toMatchObject({ interval: "15s", timeout: "5s" });
    const slow = renderStack({
      TARSD_HEALTH_INTERVAL: "30s",
      TARSD_HEALTH_TIMEOUT: "20s",
      TARSD_HEALTH_START_PERIOD: "300s",
    });
    for (const [name, service] of Object.entries(slow.services as Record<string, Any>)) {
      expect({ name, ...service.healthcheck }).toMatchObject({
        name,
        interval: "30s",
        timeout: "20s",
        start_period: "5m0s",
      });
    }
  },
  60_000,
);

test(
  "Alertmanager: one replica on the manager, unpublished, its rendered configuration a config named after its sha256; Prometheus and every runtime service reach it",
  () => {
    const stack = renderStack();
    const services = stack.services as Record<string, Any>;
    const am = services.alertmanager;
    expect(am.image).toMatch(/^prom\/alertmanager:v\d+\.\d+\.\d+$/);
    expect(am.deploy.replicas).toBe(1);
    expect(am.deploy.placement.constraints).toEqual(["node.role == manager"]);
    expect(am.ports ?? []).toEqual([]);
    expect(am.deploy.update_config.order).toBe("stop-first");
    expect(am.volumes).toEqual([{ type: "volume", source: "alertmanager-data", target: "/alertmanager" }]);
    expect(am.command).toEqual(expect.arrayContaining([
      "--config.file=/etc/alertmanager/alertmanager.yml",
      "--storage.path=/alertmanager",
      "--cluster.listen-address=", // one replica: no gossip cluster
    ]));
    // Its configuration: deploy/alertmanager/alertmanager.yml as deploy/stack-deploy renders it (here with
    // no TARSD_ALERT_* set), shipped as a config named after the rendered file.
    expect(am.configs).toEqual([{
      source: "alertmanager_config",
      target: "/etc/alertmanager/alertmanager.yml",
      mode: 0o444,
    }]);
    expect(stack.configs.alertmanager_config).toEqual({
      name: `tarsd_alertmanager_config_${sha256Of(defaultAlertmanagerConfig()).slice(0, 12)}`,
      file: defaultAlertmanagerConfig(),
    });
    // The SMTP password's secret: the placeholder unless deploy/stack-deploy names the operator's.
    expect(am.secrets.map((s: Any) => s.source)).toEqual(["tarsd_alert_smtp_password"]);
    expect(stack.secrets.tarsd_alert_smtp_password).toEqual({
      external: true,
      name: "tarsd_alert_smtp_password_unset",
    });
    const named = renderStack({ TARSD_ALERT_SMTP_PASSWORD_SECRET: "tarsd_alert_smtp_password_0123abcd" });
    expect(named.secrets.tarsd_alert_smtp_password.name).toBe("tarsd_alert_smtp_password_0123abcd");

    // Prometheus sends its alerts to the service by name, on a network the two share.
    const prom = Bun.YAML.parse(readFileSync(join(DEPLOY, "prometheus", "prometheus.yml"), "utf8")) as Any;
    expect(prom.alerting.alertmanagers).toEqual([{ static_configs: [{ targets: ["alertmanager:9093"] }] }]);
    const networks = (service: string) => Object.keys(services[service].networks ?? {});
    expect(networks("alertmanager").some((n) => networks("prometheus").includes(n))).toBe(true);
    // Every runtime service (APP 1, 2, 3) asks it for GET /alerts, on a network it shares with it.
    for (const name of ["files", "remote-write-containers", "remote-write-vms"]) {
      expect({ name, url: services[name].environment.ALERTMANAGER_URL }).toEqual({
        name,
        url: "http://alertmanager:9093",
      });
      expect({ name, shared: networks(name).some((n) => networks("alertmanager").includes(n)) }).toEqual({
        name,
        shared: true,
      });
    }
  },
  60_000,
);

test(
  "Alertmanager's configuration, as rendered: amtool accepts it; no TARSD_ALERT_* notifies nobody, each variable adds its notifier",
  () => {
    const amtool = requireBinary("amtool");
    const dir = tempDir("tarsd-alertmanager-render-");
    const check = (file: string) => {
      const res = run([amtool, "check-config", file]);
      expect({ file, out: res.out + res.err, code: res.code }).toMatchObject({ file, code: 0 });
      return Bun.YAML.parse(readFileSync(file, "utf8")) as Any;
    };

    // None set: every alert to `operator`, which has no notifier (the alerts stay visible through the API).
    const plain = check(defaultAlertmanagerConfig());
    expect(readFileSync(defaultAlertmanagerConfig(), "utf8")).toBe(
      readFileSync(join(DEPLOY, "alertmanager", "alertmanager.yml"), "utf8"),
    );
    expect(plain.route.receiver).toBe("operator");
    expect(plain.route.routes).toBeUndefined();
    expect(plain.receivers).toEqual([{ name: "operator" }]);

    // All set: a webhook and e-mail, resolved notices too; the SMTP password only as a file's path.
    const full = check(renderAlertmanagerConfig(join(dir, "full.yml"), {
      TARSD_ALERT_WEBHOOK_URL: 'https://hooks.example.org/T0/"quoted"\\path',
      TARSD_ALERT_EMAIL_TO: "ops@example.org, oncall@example.org",
      TARSD_ALERT_EMAIL_FROM: "alertmanager@example.org",
      TARSD_ALERT_EMAIL_SMARTHOST: "smtp.example.org:587",
      TARSD_ALERT_EMAIL_USERNAME: "alertmanager",
      TARSD_ALERT_EMAIL_REQUIRE_TLS: "false",
    }, { smtpPasswordFile: "/run/secrets/tarsd_alert_smtp_password" }));
    expect(statSync(join(dir, "full.yml")).mode & 0o077).toBe(0); // it may hold a token: its owner's only
    expect(full.route).toEqual(plain.route);
    expect(full.receivers).toEqual([{
      name: "operator",
      webhook_configs: [{ url: 'https://hooks.example.org/T0/"quoted"\\path', send_resolved: true }],
      email_configs: [{
        to: "ops@example.org, oncall@example.org",
        from: "alertmanager@example.org",
        smarthost: "smtp.example.org:587",
        auth_username: "alertmanager",
        auth_password_file: "/run/secrets/tarsd_alert_smtp_password",
        require_tls: false,
        send_resolved: true,
      }],
    }]);

    // The settings file, for what the environment does not set (the environment wins).
    const envFile = join(dir, "alerting.env");
    writeFileSync(
      envFile,
      "# alerts\nTARSD_ALERT_WEBHOOK_URL='http://file.example.org/hook'\nTARSD_ALERT_EMAIL_TO=ops@example.org\n",
    );
    const fromFile = check(renderAlertmanagerConfig(join(dir, "file.yml"), {
      TARSD_ALERTING_ENV: envFile,
      TARSD_ALERT_EMAIL_TO: "",
      TARSD_ALERT_EMAIL_FROM: "am@example.org",
      TARSD_ALERT_EMAIL_SMARTHOST: "smtp.example.org:25",
    }));
    expect(fromFile.receivers[0].webhook_configs).toEqual([{
      url: "http://file.example.org/hook",
      send_resolved: true,
    }]);
    expect(fromFile.receivers[0].email_configs[0]).toMatchObject({ to: "ops@example.org", from: "am@example.org" });
    expect(fromFile.receivers[0].email_configs[0].auth_password_file).toBeUndefined();

    // What cannot work is refused, naming the variable.
    for (
      const [settings, reason] of [
        [
          { TARSD_ALERT_WEBHOOK_URL: "hooks.example.org/x" },
          "TARSD_ALERT_WEBHOOK_URL must be an http:// or https:// URL",
        ],
        [{ TARSD_ALERT_WEBHOOK_URL: "http://a/\nroute: {}" }, "TARSD_ALERT_WEBHOOK_URL holds a control character"],
        [{ TARSD_ALERT_EMAIL_TO: "ops@example.org" }, "TARSD_ALERT_EMAIL_FROM (the sender address) is missing"],
        [
          { TARSD_ALERT_EMAIL_TO: "a@b", TARSD_ALERT_EMAIL_FROM: "c@d", TARSD_ALERT_EMAIL_SMARTHOST: "smtp" },
          "TARSD_ALERT_EMAIL_SMARTHOST must be host:port",
        ],
        [{ TARSD_ALERT_EMAIL_FROM: "c@d" }, "TARSD_ALERT_EMAIL_FROM is set but TARSD_ALERT_EMAIL_TO"],
        [{ TARSD_ALERT_WEBHOOK: "http://a/" }, ""], // not a variable it knows from the environment: ignored
      ] as [Record<string, string>, string][]
    ) {
      if (reason === "") {
        expect(() => renderAlertmanagerConfig(join(dir, "ignored.yml"), settings)).not.toThrow();
        continue;
      }
      expect(() => renderAlertmanagerConfig(join(dir, "refused.yml"), settings)).toThrow(reason);
    }
    writeFileSync(envFile, "TARSD_ALERT_WEBHOOK=http://typo.example.org/\n");
    expect(() => renderAlertmanagerConfig(join(dir, "typo.yml"), { TARSD_ALERTING_ENV: envFile })).toThrow(
      "unknown variable TARSD_ALERT_WEBHOOK",
    );
    rmSync(dir, { recursive: true, force: true });
  },
  60_000,
);
