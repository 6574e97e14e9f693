// The stack on a real Docker Swarm engine: the image built from deploy/Dockerfile, deploy/stack.yml
// deployed by deploy/stack-deploy (through the transform in tests/swarm/test-stack.ts, which says what
// this machine changes and why), Prometheus discovering its targets through the swarm API, the rules'
// series reaching the right InfluxDB through APP 2 and APP 3 (the container rules on cAdvisor's own
// series, from cAdvisor's library: tests/vms/standins/cadvisor), the historic curl API across replicas,
// a function redeployed by deploy/redeploy while a client keeps calling, a broken one rolled back, and
// the files kept across `docker stack rm`. Single node; see the README for what it does not cover.
// The tests run in order and share one swarm; a failed step makes the later ones fail, not skip.
import { afterAll, expect, test } from "bun:test";
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { runCommand } from "../../harness/child-process.ts";
import { bundleFunctions, copyCheckout, repositoryFunctionBundles, sha256Of } from "../../harness/bundles.ts";
import { asSharedFolder, copyAsSharedFolder } from "./shared-folder.ts";
import {
  deployStack,
  eventually,
  HOST_PORTS,
  INTERFACE,
  NODE_ADDRESS,
  removeStack,
  STACK,
  startClient,
  startSwarm,
  stopClient,
  stopSwarm,
  type Swarm,
} from "./swarm-fixture.ts";

// JSON from Docker and Prometheus is free-form
// deno-lint-ignore no-explicit-any
type Any = any;

let swarm: Swarm | undefined;
let deployed = false;
const started = Date.now();
const need = (): Swarm => {
  if (!swarm || !deployed) throw new Error("the stack did not come up (see the first test's failure)");
  return swarm;
};

const EXPECTED_SERVICES: Record<string, number> = {
  files: 3,
  "remote-write-containers": 1,
  "remote-write-vms": 1,
  "influxdb-containers": 1,
  "influxdb-vms": 1,
  prometheus: 1,
  alertmanager: 1,
  "docker-api": 1,
  "node-exporter": 1, // global, one node
  cadvisor: 1, // global, one node
};

/** Every expected service has its replicas running and every container of the stack is healthy. */
async function converged(s: Swarm): Promise<true | undefined> {
  const ls = (await s.engine.docker(["service", "ls", "--format", "{{.Name}} {{.Replicas}}"])).out.trim().split("\n");
  const replicas = Object.fromEntries(ls.map((line) => line.split(" ")).map(([name, r]) => [name, r]));
  for (const [service, n] of Object.entries(EXPECTED_SERVICES)) {
    if (replicas[`${STACK}_${service}`] !== `${n}/${n}`) {
      throw new Error(`${service}: ${replicas[`${STACK}_${service}`] ?? "missing"}`);
    }
  }
  const ps = (await s.engine.docker([
    "ps",
    "--filter",
    `label=com.docker.stack.namespace=${STACK}`,
    "--format",
    "{{.Names}}|{{.Status}}",
  ])).out.trim().split("\n");
  const unhealthy = ps.filter((line) => !line.includes("(healthy)"));
  if (unhealthy.length > 0) throw new Error(`not healthy yet: ${unhealthy.join(", ")}`);
  if (ps.length !== Object.values(EXPECTED_SERVICES).reduce((a, b) => a + b, 0)) {
    throw new Error(`containers: ${ps.join(", ")}`);
  }
  return true;
}

/** A Flux query on the InfluxDB at host port `port`, its answer as CSV. */
async function fluxCsv(port: number, query: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v2/query`, {
    method: "POST",
    headers: {
      "content-type": "application/vnd.flux",
      accept: "application/csv",
      authorization: "Token unused:unused",
    },
    body: query,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`flux on :${port}: ${res.status} ${text}`);
  return text;
}

async function fluxMeasurements(port: number, bucket: string): Promise<string[]> {
  const query =
    `from(bucket: "${bucket}/autogen") |> range(start: -1h) |> keep(columns: ["_measurement"]) |> group() |> distinct(column: "_measurement")`;
  const text = await fluxCsv(port, query);
  // CSV rows: ,result,table,_value
  return [...new Set(text.split(/\r?\n/).map((row) => row.split(",")[3] ?? "").filter((v) => /^job_/.test(v)))].sort();
}

/** The newest point of every series of `measurement` in a bucket (Flux `last()`): one row per series, tags as columns. */
async function fluxLast(port: number, bucket: string, measurement: string): Promise<Record<string, string>[]> {
  const query = `from(bucket: "${bucket}/autogen") |> range(start: -15m) |> filter(fn: (r) => r._measurement == ` +
    `"${measurement}") |> last()`;
  const text = await fluxCsv(port, query);
  // Annotated CSV: per schema, annotation rows (#datatype, #group, #default), a header, the rows; a blank line
  // before the next schema. No value here holds a comma.
  const rows: Record<string, string>[] = [];
  let header: string[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === "") header = undefined;
    else if (line.startsWith("#")) continue;
    else if (!header) header = line.split(",");
    else {
      const cells = line.split(",");
      rows.push(Object.fromEntries(header.map((name, i) => [name, cells[i] ?? ""])));
    }
  }
  return rows;
}

/** Prometheus' instant query (at `time`, seconds, when given): the result's series. */
async function promQuery(query: string, time?: number): Promise<Any[]> {
  const params = new URLSearchParams({ query });
  if (time !== undefined) params.set("time", String(time));
  const body = (await (await fetch(`http://127.0.0.1:${HOST_PORTS.prometheus}/api/v1/query?${params}`)).json()) as Any;
  if (body.status !== "success") throw new Error(`${query}: ${JSON.stringify(body)}`);
  return body.data.result;
}

function ruleNames(file: string): string[] {
  const doc = Bun.YAML.parse(readFileSync(file, "utf8")) as Any;
  return doc.groups.flatMap((g: Any) => g.rules.map((r: Any) => r.record)).filter(Boolean).sort();
}

/** Addresses of the tasks behind a service name, as swarm's DNS gives them (dnsrr). */
async function taskAddresses(s: Swarm, service: string): Promise<string[]> {
  const out = (await s.client(`getent ahostsv4 ${service} | awk '{ print $1 }' | sort -u`)).out;
  return out.trim().split("\n").filter(Boolean);
}

async function functionShas(s: Swarm, fn: string): Promise<string[]> {
  const shas: string[] = [];
  for (const address of await taskAddresses(s, "files")) {
    const body = JSON.parse((await s.client(`curl -sS --max-time 5 http://${address}:5001/functions`)).out) as {
      name: string;
      sha256: string;
    }[];
    shas.push(body.find((f) => f.name === fn)?.sha256 ?? "(missing)");
  }
  return shas;
}

afterAll(async () => {
  if (swarm) await stopSwarm(swarm);
  console.log(`swarm test: ${Math.round((Date.now() - started) / 1000)} s in all`);
}, 240_000);

test("the stack converges on a real swarm: every service's replicas running and healthy", async () => {
  swarm = await startSwarm();
  // Built from a copy whose files are all 0640 (swarm-fixture.ts): the image's user still reads its own.
  const unreadable = await swarm.engine.docker([
    "run",
    "--rm",
    "--network",
    "none",
    "--entrypoint",
    "sh",
    swarm.image,
    "-c",
    "find /app -path /app/node_modules -prune -o ! -readable -print 2>&1",
  ]);
  expect({ user: "bun", unreadable: unreadable.out.trim() }).toEqual({ user: "bun", unreadable: "" });
  const out = deployStack(swarm);
  expect(out).toContain(`deploying stack ${STACK}`);
  await eventually("stack converged", 240_000, () => converged(swarm as Swarm));
  await startClient(swarm);
  deployed = true;
}, 900_000);

test("APP 2 and APP 3 write with tokens minted for their bucket alone, not InfluxDB's admin token", async () => {
  const s = need();
  const sha16 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex").slice(0, 16);
  /**
   * The influx CLI calls the stand-in (standins/influxdb/influx) logged on one InfluxDB, in order: deploy/
   * influx-tokens runs the CLI in one-off containers, so each call is kept on the server it talked to.
   */
  const influxCliCalls = async (port: number) => {
    const params = new URLSearchParams({ db: "influx_cli", q: 'SELECT "line" FROM "call"' });
    const res = await fetch(`http://127.0.0.1:${port}/query?${params}`);
    const body = (await res.json()) as Any;
    if (res.status !== 200 || body.results?.[0]?.error) {
      throw new Error(`influx_cli on :${port}: ${JSON.stringify(body)}`);
    }
    return ((body.results[0].series?.[0]?.values ?? []) as [string, string][]).map(([, line]) => JSON.parse(line));
  };
  const who = { containers: "APP 2 remote-write-containers", vms: "APP 3 remote-write-vms" };
  for (const bucket of ["containers", "vms"] as const) {
    const [container] = (await s.engine.docker([
      "ps",
      "-q",
      "--filter",
      `label=com.docker.swarm.service.name=${STACK}_remote-write-${bucket}`,
    ])).out.trim().split("\n");
    const mounted =
      (await s.engine.docker(["exec", container ?? "", "cat", `/run/secrets/tarsd_influx_${bucket}_write_token`])).out;
    const minted = readFileSync(
      join(s.deployEnv.TARSD_SECRETS_DIR ?? "", `tarsd_influx_${bucket}_write_token`),
      "utf8",
    );
    const admin = readFileSync(join(s.deployEnv.TARSD_SECRETS_DIR ?? "", `tarsd_influx_${bucket}_token`), "utf8");
    expect({ bucket, mounted }).toEqual({ bucket, mounted: minted });
    expect(mounted).not.toBe(admin);
    const secret = readFileSync(
      join(s.deployEnv.TARSD_SECRETS_DIR ?? "", `tarsd_influx_${bucket}_write_token.secret`),
      "utf8",
    ).trim();
    expect(secret).toMatch(new RegExp(`^tarsd_influx_${bucket}_write_token_[0-9a-f]{8}$`));

    // The minting calls deploy/influx-tokens made, exactly: against influxdb-<bucket>, with that server's
    // admin token (as the script reads it: $(cat) drops the newline) and org tarsd; the bucket looked up
    // by name, then a token for write (APP 2/APP 3) and one for read (Grafana) of that bucket's id alone
    // (the stand-in's id of a bucket is the first 16 hex of sha256 of its name: never the name).
    const calls = await influxCliCalls(bucket === "vms" ? HOST_PORTS.influxVms : HOST_PORTS.influxContainers);
    // `bucket list` is repeated until InfluxDB has set the bucket up: a run of the same call counts once.
    const distinct = calls.filter((call, i) => i === 0 || JSON.stringify(call) !== JSON.stringify(calls[i - 1]));
    const call = (args: string[]) => ({
      host: `http://influxdb-${bucket}:8086`,
      org: "tarsd",
      token_sha256: sha16(admin.replace(/\n+$/, "")),
      args,
    });
    const list = call(["bucket", "list", "--name", bucket, "--hide-headers"]);
    const create = (action: "write" | "read", by: string) =>
      call([
        "auth",
        "create",
        "--org",
        "tarsd",
        `--${action}-bucket`,
        sha16(bucket),
        "--description",
        `${by} (${action} ${bucket} only)`,
        "--json",
      ]);
    expect({ bucket, calls: distinct }).toEqual({
      bucket,
      calls: [list, create("write", who[bucket]), list, create("read", "Grafana")],
    });
  }
}, 60_000);

test(
  "Prometheus finds node-exporter, cAdvisor, every function replica and itself through the swarm API, all up",
  async () => {
    const s = need();
    const targets = await eventually("all targets up", 120_000, async () => {
      const body =
        (await (await fetch(`http://127.0.0.1:${HOST_PORTS.prometheus}/api/v1/targets?state=active`)).json()) as Any;
      const active = body.data.activeTargets as Any[];
      const byJob = (job: string) => active.filter((t) => t.labels.job === job);
      if (
        byJob("functions").length !== 5 || byJob("node").length !== 1 || byJob("prometheus").length !== 1 ||
        byJob("cadvisor").length !== 1
      ) {
        throw new Error(`targets: ${active.map((t) => `${t.labels.job} ${t.scrapeUrl} ${t.health}`).join("; ")}`);
      }
      const down = active.filter((t) => t.health !== "up");
      if (down.length > 0) throw new Error(`down: ${down.map((t) => `${t.scrapeUrl} ${t.lastError}`).join("; ")}`);
      return active;
    });
    const node = targets.find((t) => t.labels.job === "node");
    expect(node.scrapeUrl).toBe(`http://${NODE_ADDRESS}:${HOST_PORTS.nodeExporter}/metrics`);
    // cAdvisor's task, once, on the monitoring network, at the port its service label names.
    const cadvisor = targets.find((t) => t.labels.job === "cadvisor");
    expect({
      network: cadvisor.discoveredLabels.__meta_dockerswarm_network_name,
      port: cadvisor.labels.instance.split(":")[1],
      node: cadvisor.labels.node,
    }).toEqual({ network: "tarsd_monitoring", port: "8080", node: node.labels.node });
    const services = targets.filter((t) => t.labels.job === "functions").map((t) => t.labels.service).sort();
    expect(services).toEqual([
      `${STACK}_files`,
      `${STACK}_files`,
      `${STACK}_files`,
      `${STACK}_remote-write-containers`,
      `${STACK}_remote-write-vms`,
    ]);
    // Each replica once, on the network it shares with Prometheus: APP 1's own, or the monitoring one. The
    // addresses are the tasks' own there, the ones swarm's DNS gives on APP 1's network.
    const networks = targets.filter((t) => t.labels.job === "functions").map((t) =>
      `${t.labels.service} ${t.discoveredLabels.__meta_dockerswarm_network_name}`
    ).sort();
    expect(networks).toEqual([
      `${STACK}_files tarsd_files`,
      `${STACK}_files tarsd_files`,
      `${STACK}_files tarsd_files`,
      `${STACK}_remote-write-containers tarsd_monitoring`,
      `${STACK}_remote-write-vms tarsd_monitoring`,
    ]);
    const files = targets.filter((t) => t.labels.service === `${STACK}_files`).map((t) =>
      t.labels.instance.split(":")[0]
    )
      .sort();
    expect(files).toEqual((await taskAddresses(s, "files")).sort());
    // APP 1 is not on the monitoring network: a container there finds the remote-write services, not APP 1.
    const resolve = async (name: string) =>
      (await s.engine.docker(
        ["run", "--rm", "--network", "tarsd_monitoring", s.clientImage, "getent", "ahostsv4", name],
        { allowFail: true },
      )).code;
    expect({ files: await resolve("files"), rw: await resolve("remote-write-vms") }).toEqual({ files: 2, rw: 0 });
  },
  180_000,
);

test("Prometheus reads its config and every rule file from configs named after each file's sha256", async () => {
  const s = need();
  const specs = JSON.parse(
    (await s.engine.docker([
      "service",
      "inspect",
      `${STACK}_prometheus`,
      "--format",
      "{{json .Spec.TaskTemplate.ContainerSpec.Configs}}",
    ])).out,
  ) as { ConfigName: string; File: { Name: string; Mode: number } }[];
  const rules = readdirSync(join(s.root, "deploy", "prometheus", "rules")).filter((f) => f.endsWith(".rules.yml"));
  const source = (target: string) => join(s.root, "deploy", "prometheus", target.replace("/etc/prometheus/", ""));
  // deploy's own files, nothing more: the container rules have cAdvisor's series (no stand-in rule).
  expect(specs.map((c) => c.File.Name).sort()).toEqual(
    ["/etc/prometheus/prometheus.yml", ...rules.map((r) => `/etc/prometheus/rules/${r}`)].sort(),
  );
  for (const c of specs) {
    expect({ target: c.File.Name, name: c.ConfigName, mode: c.File.Mode }).toEqual({
      target: c.File.Name,
      name: expect.stringMatching(new RegExp(`^tarsd_prometheus_.+_${sha256Of(source(c.File.Name)).slice(0, 12)}$`)),
      mode: 0o444,
    });
  }
  // prometheus.yml's rules/*.rules.yml finds every one of them.
  const body = (await (await fetch(`http://127.0.0.1:${HOST_PORTS.prometheus}/api/v1/rules`)).json()) as Any;
  const loaded = [...new Set((body.data.groups as Any[]).map((g) => g.file as string))].sort();
  expect(loaded).toEqual(specs.map((c) => c.File.Name).filter((f) => f.includes("/rules/")).sort());
}, 60_000);

test(
  "the rules' series reach InfluxDB through APP 3 (VM rules) and APP 2 (container rules), each only its own",
  async () => {
    need();
    const vmRules = ruleNames(join(REPO_ROOT, "deploy", "prometheus", "rules", "vms.rules.yml"));
    const containerRules = ruleNames(join(REPO_ROOT, "deploy", "prometheus", "rules", "containers.rules.yml"));
    const [vms, containers] = await eventually("every rule's series in its bucket", 180_000, async () => {
      const inVms = await fluxMeasurements(HOST_PORTS.influxVms, "vms");
      const inContainers = await fluxMeasurements(HOST_PORTS.influxContainers, "containers");
      if (
        vmRules.some((r) => !inVms.includes(r)) || containerRules.some((r) => !inContainers.includes(r))
      ) throw new Error(`vms: ${inVms}; containers: ${inContainers}`);
      return [inVms, inContainers];
    }, 5000);
    expect(vms).toEqual(vmRules);
    expect(containers).toEqual(containerRules);
  },
  240_000,
);

/** The container rules (deploy/prometheus/rules/containers.rules.yml), by what they measure. */
const CONTAINER_RULES = {
  cpu: "job_container:container_cpu_usage:percent",
  memory: "job_container:container_memory_working_set:bytes",
  receive: "job_container:container_network_receive_bytes:rate5m",
  transmit: "job_container:container_network_transmit_bytes:rate5m",
} as const;
type ContainerRule = keyof typeof CONTAINER_RULES;
type Written = Record<ContainerRule, Record<string, Record<string, string>>>;

/** The stack's containers now, as cAdvisor names them (its `name` label), each with its swarm service. */
async function stackContainers(s: Swarm): Promise<Record<string, string>> {
  const out = (await s.engine.docker([
    "ps",
    "--filter",
    `label=com.docker.stack.namespace=${STACK}`,
    "--format",
    '{{.Names}} {{.Label "com.docker.swarm.service.name"}}',
  ])).out;
  return Object.fromEntries(out.trim().split("\n").map((line) => line.split(" ")));
}

/** The container rules' series as APP 2 wrote them into bucket containers: the newest point of each, by container. */
async function writtenContainerSeries(): Promise<Written> {
  const written = {} as Written;
  for (const [rule, measurement] of Object.entries(CONTAINER_RULES) as [ContainerRule, string][]) {
    const rows = await fluxLast(HOST_PORTS.influxContainers, "containers", measurement);
    // Only containers: never cAdvisor's cgroup-level series (no `name`: the root cgroup, system slices).
    const unnamed = rows.filter((r) => !r.container);
    if (unnamed.length > 0) throw new Error(`${measurement} without container: ${JSON.stringify(unnamed)}`);
    written[rule] = Object.fromEntries(rows.map((r) => [r.container, r]));
  }
  return written;
}

test(
  "deploy's container rules run on cAdvisor's series: CPU, memory and network of every container of the stack reach bucket containers, computed from cAdvisor's samples",
  async () => {
    const s = need();
    const service = await stackContainers(s);
    const names = Object.keys(service).sort();
    expect(names.length).toBe(Object.values(EXPECTED_SERVICES).reduce((a, b) => a + b, 0));
    const runtime = ["files", "remote-write-containers", "remote-write-vms"].map((n) => `${STACK}_${n}`);
    const replicas = names.filter((name) => runtime.includes(service[name] ?? ""));
    expect(replicas.length).toBe(5);
    // Host-network containers are the next test's: here the network of every other container.
    const withNetwork = names.filter((name) => service[name] !== `${STACK}_node-exporter`);
    const node = (await s.engine.docker(["node", "inspect", "self", "--format", "{{.Description.Hostname}}"])).out
      .trim();
    const [cadvisor] = (await promQuery('up{job="cadvisor"} == 1')).map((r) => r.metric.instance as string);
    expect(cadvisor).toMatch(/^10\.20\.\d+\.\d+:8080$/);

    const written = await eventually(
      "the container rules' series of every container in bucket containers",
      180_000,
      async () => {
        const byRule = await writtenContainerSeries();
        const value = (rule: ContainerRule, name: string) => Number(byRule[rule][name]?._value ?? Number.NaN);
        const missing = [
          ...names.filter((n) => !(value("cpu", n) > 0)).map((n) => `cpu ${n}`),
          ...names.filter((n) => !(value("memory", n) > 0)).map((n) => `memory ${n}`),
          ...withNetwork.filter((n) => !byRule.receive[n]).map((n) => `receive ${n}`),
          ...withNetwork.filter((n) => !byRule.transmit[n]).map((n) => `transmit ${n}`),
          // Prometheus scrapes every runtime replica: each receives and sends.
          ...replicas.filter((n) => !(value("receive", n) > 0 && value("transmit", n) > 0)).map((n) => `traffic ${n}`),
        ];
        if (missing.length > 0) throw new Error(`not (yet) in bucket containers: ${missing.join(", ")}`);
        return byRule;
      },
      5000,
    );

    // Each series is cAdvisor's (job, instance: its task), of this node, labelled with its container and
    // swarm service.
    for (const [rule, byName] of Object.entries(written) as [ContainerRule, Record<string, Record<string, string>>][]) {
      for (const name of rule === "cpu" || rule === "memory" ? names : withNetwork) {
        const row = byName[name] ?? {};
        expect({ rule, name, job: row.job, instance: row.instance, node: row.node, service: row.service }).toEqual({
          rule,
          name,
          job: "cadvisor",
          instance: cadvisor,
          node,
          service: service[name],
        });
      }
    }

    // Computed from cAdvisor's series, for every runtime replica: the memory point is the working set of one
    // of cAdvisor's samples of that container (the rule sums one series); the CPU point is the sample
    // Prometheus recorded for the rule at that instant, and the rate of cAdvisor's CPU counter at that
    // instant agrees with it (not to the digit: cAdvisor stamps its samples with its own collection time,
    // so a sample scraped after the rule ran may count now and did not then).
    for (const name of replicas) {
      const memory = written.memory[name] ?? {};
      const memoryAt = Date.parse(memory._time ?? "") / 1000;
      const [samples] = await promQuery(`container_memory_working_set_bytes{name="${name}"}[10m]`, memoryAt);
      const seen = (samples?.values ?? []).map(([, v]: [number, string]) => Number(v));
      const bytes = Number(memory._value);
      expect({ name, memory: seen.includes(bytes) ? bytes : { notAmongCadvisorSamples: seen } }).toEqual({
        name,
        memory: bytes,
      });
      const cpu = written.cpu[name] ?? {};
      const cpuAt = Date.parse(cpu._time ?? "") / 1000;
      const [recorded] = await promQuery(`${CONTAINER_RULES.cpu}{container="${name}"}`, cpuAt);
      const [fromCadvisor] = await promQuery(
        `100 * sum(rate(container_cpu_usage_seconds_total{name="${name}"}[5m]))`,
        cpuAt,
      );
      const percent = Number(cpu._value);
      expect({ name, cpu: percent }).toEqual({ name, cpu: Number(recorded?.value?.[1]) });
      const ratio = percent / Number(fromCadvisor?.value?.[1]);
      expect({ name, cpu: percent, cadvisorRate: Number(fromCadvisor?.value?.[1]), agrees: ratio > 0.5 && ratio < 2 })
        .toMatchObject({ name, agrees: true });
    }
    const example = replicas.find((n) => service[n] === `${STACK}_files`) ?? "";
    console.log(
      `container rules from cAdvisor, ${example} (service ${service[example]}, node ${node}, instance ${cadvisor}): ` +
        `cpu ${Number(written.cpu[example]?._value).toFixed(3)} % of a core, working set ${
          written.memory[example]?._value
        } bytes, network in ${Number(written.receive[example]?._value).toFixed(1)} B/s, out ${
          Number(written.transmit[example]?._value).toFixed(1)
        } B/s`,
    );
  },
  240_000,
);

test(
  "host-network containers are left out of the container network rules: node-exporter's CPU and memory reach bucket containers, its network (the node's interfaces) does not",
  async () => {
    const s = need();
    const service = await stackContainers(s);
    const hostNetwork = Object.keys(service).filter((name) => service[name] === `${STACK}_node-exporter`);
    expect(hostNetwork.length).toBe(1);
    const nodeExporter = hostNetwork[0] ?? "";
    const replica = Object.keys(service).find((name) => service[name] === `${STACK}_files`) ?? "";
    // Why the rules leave it out (deploy/prometheus/rules/containers.rules.yml): node-exporter is in the
    // node's network namespace, and cAdvisor reports the node's interfaces as its own, every byte of the
    // node (already in job_instance:*). The proof: the bridge this test made on the node, INTERFACE, which
    // no container on an overlay network sees.
    const mode = (await s.engine.docker(["inspect", "--format", "{{.HostConfig.NetworkMode}}", nodeExporter])).out;
    expect(mode.trim()).toBe("host");
    const interfaces = async (name: string) =>
      (await promQuery(`container_network_receive_bytes_total{name="${name}"}`)).map((r) =>
        r.metric.interface as string
      )
        .sort();
    const seen = { [nodeExporter]: await interfaces(nodeExporter), [replica]: await interfaces(replica) };
    console.log(`cAdvisor's interfaces: ${JSON.stringify(seen)}`);
    expect({ hostNetwork: seen[nodeExporter]?.includes(INTERFACE), overlay: seen[replica]?.includes(INTERFACE) })
      .toEqual({ hostNetwork: true, overlay: false });

    // In bucket containers: its CPU and memory (it is a container the rules see), not its network.
    const written = await eventually("node-exporter's CPU and memory in bucket containers", 120_000, async () => {
      const byRule = await writtenContainerSeries();
      return byRule.cpu[nodeExporter] && byRule.memory[nodeExporter] && byRule.receive[replica] ? byRule : undefined;
    }, 5000);
    const network = (rule: "receive" | "transmit") => written[rule][nodeExporter]?._value;
    expect({ container: nodeExporter, receive: network("receive"), transmit: network("transmit") }).toEqual({
      container: nodeExporter,
      receive: undefined,
      transmit: undefined,
    });
    // Nor in what Prometheus recorded (what APP 2 is sent).
    for (const measurement of [CONTAINER_RULES.receive, CONTAINER_RULES.transmit]) {
      const recorded = await promQuery(`${measurement}{container="${nodeExporter}"}`);
      expect({ measurement, recorded: recorded.map((r) => r.value[1]) }).toEqual({ measurement, recorded: [] });
    }
  },
  180_000,
);

test("the historic curl API: upload to one replica, download the same bytes through another", async () => {
  const s = need();
  const addresses = await taskAddresses(s, "files");
  expect(addresses.length).toBe(3);
  writeFileSync(join(s.clientDir, "notes.bin"), crypto.getRandomValues(new Uint8Array(300_000)));
  const up = await s.client(`cd /client && curl -sS -X POST -F 'file=@notes.bin' ${addresses[0]}:5001/upload`);
  expect(JSON.parse(up.out).stored[0]).toMatchObject({ name: "notes.bin", size: 300_000 });
  await s.client(`cd /client && curl -sS -X POST -F 'name=notes.bin' ${addresses[1]}:5001/download > notes.out`);
  expect(sha256Of(join(s.clientDir, "notes.out"))).toBe(sha256Of(join(s.clientDir, "notes.bin")));
}, 60_000);

test("every APP 1 replica's /alerts reads the stack's Alertmanager (the status page's firing alerts)", async () => {
  const s = need();
  for (const address of await taskAddresses(s, "files")) {
    const answer = JSON.parse((await s.client(`curl -sS -f --max-time 10 http://${address}:5001/alerts`)).out);
    expect(answer).toMatchObject({ configured: true, alerts: expect.any(Array) });
  }
}, 60_000);

type Calls = { ok: number; closedByServer: number; failed: number; failures: unknown[]; addresses: string[] };

/**
 * Runs two resolving clients (tests/swarm/resolving-client.ts) in the client container around `during`:
 * one resolves the name before every request, one keeps its address until the server closes the
 * connection (what a kept-alive pool does, and what the runtime's drain answers with `Connection: close`).
 */
async function withClientsCalling<T>(
  s: Swarm,
  during: () => Promise<T>,
): Promise<{ result: T; calls: Record<"everyRequest" | "perConnection", Calls> }> {
  const stop = join(s.clientDir, "stop");
  rmSync(stop, { force: true });
  const modes = { everyRequest: "every-request", perConnection: "per-connection" } as const;
  const clients = Object.values(modes).map((mode) => {
    rmSync(join(s.clientDir, `calls-${mode}.json`), { force: true });
    return s.client(
      `bun /tests/resolving-client.ts files 5001 upload-download 3 /client/stop /client/calls-${mode}.json ${mode}`,
      { timeoutMs: 900_000 },
    );
  });
  await Bun.sleep(2000);
  let result: T;
  try {
    result = await during();
    await Bun.sleep(5000); // the last replaced task's drain
  } finally {
    writeFileSync(stop, "");
    await Promise.all(clients);
  }
  const read = (mode: string): Calls => JSON.parse(readFileSync(join(s.clientDir, `calls-${mode}.json`), "utf8"));
  return { result, calls: { everyRequest: read(modes.everyRequest), perConnection: read(modes.perConnection) } };
}

/**
 * `deploy/redeploy <fn>` run from `checkout`, an edited copy of the repository (harness/bundles.ts), given
 * the shared folder's modes first (every file 0640), as in the VMs.
 */
async function redeploy(s: Swarm, checkout: string, fn: string) {
  asSharedFolder(checkout);
  const { code, out, err } = await runCommand(["bash", join(checkout, "deploy", "redeploy"), fn], {
    env: s.deployEnv,
    timeout: 600_000,
  });
  return { code, out: out + err };
}

test(
  "deploy/redeploy of upload and download at once (one service): serialised, start-first, 0 failed uploads, downloads and lists for a client resolving the name every time and for one keeping its connection",
  async () => {
    const s = need();
    const checkout = copyCheckout(join(s.dir, "checkout-v2"));
    for (const fn of ["upload", "download"]) {
      // A change that reaches the bundle (comments do not): a log line at load.
      appendFileSync(
        join(checkout, "functions", `${fn}.ts`),
        `\nconsole.log("${fn} v2, redeployed by tests/swarm");\n`,
      );
    }
    const v2 = bundleFunctions(join(s.dir, "bundles-v2"), checkout);
    const [newUpload, newDownload] = [v2.sha256("upload"), v2.sha256("download")];
    // Deployed by deploy/stack-deploy: the replicas run (and report) this repository's bundles.
    const deployedUpload = repositoryFunctionBundles().sha256("upload");
    expect(await functionShas(s, "upload")).toEqual([deployedUpload, deployedUpload, deployedUpload]);
    expect(newUpload).not.toBe(deployedUpload);

    const { result, calls } = await withClientsCalling(
      s,
      () => Promise.all([redeploy(s, checkout, "upload"), redeploy(s, checkout, "download")]),
    );
    for (const [mode, c] of Object.entries(calls)) {
      console.log(
        `redeploy under load, ${mode}: ${c.ok} requests ok, ${c.failed} failed, ${c.closedByServer} connections closed by a draining replica, over ${c.addresses.length} task addresses`,
      );
    }
    for (const [fn, res] of [["upload", result[0]], ["download", result[1]]] as const) {
      expect({ fn, code: res.code, out: res.out }).toMatchObject({
        fn,
        code: 0,
        out: expect.stringContaining(`done: 1 of 1 service(s) updated to ${fn}@`),
      });
    }
    expect(result[0].out + result[1].out).toContain("another redeploy of stack tarsd is running; waiting for it");
    expect({ everyRequest: calls.everyRequest.failures, perConnection: calls.perConnection.failures }).toEqual({
      everyRequest: [],
      perConnection: [],
    });
    // upload, download and list rounds: about 3 requests per round
    expect(calls.everyRequest.ok).toBeGreaterThan(150);
    expect(calls.perConnection.ok).toBeGreaterThan(150);
    expect(calls.everyRequest.addresses.length).toBeGreaterThanOrEqual(9); // 3 tasks, replaced twice
    // The kept-alive client was told to close by draining replicas and moved on to the new tasks.
    expect(calls.perConnection.closedByServer).toBeGreaterThan(0);
    expect(calls.perConnection.addresses.length).toBeGreaterThanOrEqual(4);
    expect(await functionShas(s, "upload")).toEqual([newUpload, newUpload, newUpload]);
    expect(await functionShas(s, "download")).toEqual([newDownload, newDownload, newDownload]);
  },
  900_000,
);

test(
  "a function file that does not load is rolled back: the old sha256 stays, deploy/redeploy fails with the reason",
  async () => {
    const s = need();
    const before = await functionShas(s, "upload");
    const checkout = copyCheckout(join(s.dir, "checkout-broken"));
    appendFileSync(
      join(checkout, "functions", "upload.ts"),
      '\nthrow new Error("broken on purpose by tests/swarm");\n',
    );
    const res = await redeploy(s, checkout, "upload");
    expect(res.code).not.toBe(0);
    expect(res.out).toMatch(/rollback_completed|rolled back/);
    expect(res.out).toContain("broken on purpose by tests/swarm");
    await eventually("rolled back and healthy", 120_000, () => converged(s));
    expect(await functionShas(s, "upload")).toEqual(before);
  },
  600_000,
);

test("docker stack rm, then deploying again, keeps the stored files", async () => {
  const s = need();
  await stopClient(s);
  await removeStack(s);
  // The scoped tokens were minted once and are kept: one deploy, nothing minted again.
  expect(deployStack(s)).not.toContain("minted");
  await eventually("stack converged again", 240_000, () => converged(s));
  await startClient(s);
  const [address] = await taskAddresses(s, "files");
  await s.client(
    `cd /client && rm -f again.out && curl -sS -f -X POST -F 'name=notes.bin' ${address}:5001/download > again.out`,
  );
  expect(existsSync(join(s.clientDir, "again.out"))).toBe(true);
  expect(sha256Of(join(s.clientDir, "again.out"))).toBe(sha256Of(join(s.clientDir, "notes.bin")));
}, 600_000);

/** Points of `bucket` up to `stop` (RFC 3339), all series together (Flux count, summed). */
async function fluxCountUntil(port: number, bucket: string, stop: string): Promise<number> {
  const query = `from(bucket: "${bucket}/autogen") |> range(start: -2h, stop: ${stop}) |> count() |> group() |> sum()`;
  const rows = (await fluxCsv(port, query)).split(/\r?\n/).filter((line) => line && !line.startsWith("#"));
  // header then one row: ,result,table,_value
  return Number(rows[1]?.split(",").at(-1) ?? 0);
}

/** The image every runtime service's spec names, by service. */
async function runtimeImages(s: Swarm): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const service of ["files", "remote-write-containers", "remote-write-vms"]) {
    out[service] = (await s.engine.docker([
      "service",
      "inspect",
      "--format",
      "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
      `${STACK}_${service}`,
    ])).out.trim();
  }
  return out;
}

test(
  "upgrading the runtime image (deploy/build-image, then deploy/stack-deploy from the new checkout) keeps the stored files and the metrics",
  async () => {
    const s = need();
    const [address] = await taskAddresses(s, "files");
    writeFileSync(join(s.clientDir, "before-upgrade.bin"), crypto.getRandomValues(new Uint8Array(200_000)));
    await s.client(`cd /client && curl -sS -f -X POST -F 'file=@before-upgrade.bin' ${address}:5001/upload`);
    const cut = new Date(Date.now() - 5_000).toISOString();
    const before = {
      vms: await fluxCountUntil(HOST_PORTS.influxVms, "vms", cut),
      containers: await fluxCountUntil(HOST_PORTS.influxContainers, "containers", cut),
    };
    expect(before.vms).toBeGreaterThan(0);
    expect(before.containers).toBeGreaterThan(0);

    // The next version: any change to what goes into the image makes a new content-addressed tag.
    const checkout = copyAsSharedFolder(join(s.dir, "tree-upgrade"));
    appendFileSync(join(checkout, "runtime", "main.ts"), "\n// the next version, built by tests/swarm\n");
    const env = { ...s.deployEnv };
    const built = Bun.spawnSync(["bash", join(checkout, "deploy", "build-image")], { env, stderr: "pipe" });
    expect({ code: built.exitCode, err: built.stderr.toString() }).toMatchObject({ code: 0 });
    const next = readFileSync(join(s.dir, "artifacts", "image"), "utf8").trim(); // deployEnv.TARSD_ARTIFACTS
    expect(next).not.toBe(s.image);
    const deployed = Bun.spawnSync(["bash", join(checkout, "deploy", "stack-deploy")], {
      env: { ...env, TARSD_IMAGE: next },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect({ code: deployed.exitCode, out: deployed.stdout.toString() + deployed.stderr.toString() }).toMatchObject({
      code: 0,
    });
    await eventually("upgraded and converged", 300_000, () => converged(s));
    expect(await runtimeImages(s)).toEqual({
      files: next,
      "remote-write-containers": next,
      "remote-write-vms": next,
    });

    // Files: uploaded before, downloaded from the upgraded replicas, byte for byte.
    const [upgraded] = await taskAddresses(s, "files");
    await s.client(
      `cd /client && curl -sS -f -X POST -F 'name=before-upgrade.bin' ${upgraded}:5001/download > after-upgrade.out`,
    );
    expect(sha256Of(join(s.clientDir, "after-upgrade.out"))).toBe(sha256Of(join(s.clientDir, "before-upgrade.bin")));
    // Metrics: every point written before the upgrade is still there, and new ones keep coming. Points
    // stamped before the cut may still arrive after it (remote write lags more than 5 s under load:
    // seen once in CI, 3,793 then 3,798): none may be missing.
    const kept = {
      vms: await fluxCountUntil(HOST_PORTS.influxVms, "vms", cut),
      containers: await fluxCountUntil(HOST_PORTS.influxContainers, "containers", cut),
    };
    expect({ vms: kept.vms >= before.vms, containers: kept.containers >= before.containers, kept, before })
      .toMatchObject({ vms: true, containers: true });
    const later = new Date().toISOString();
    await eventually("new points after the upgrade", 120_000, async () => {
      const now = new Date(Date.now() + 60_000).toISOString();
      return (await fluxCountUntil(HOST_PORTS.influxVms, "vms", now)) >
          (await fluxCountUntil(HOST_PORTS.influxVms, "vms", later))
        ? true
        : undefined;
    });
  },
  900_000,
);
