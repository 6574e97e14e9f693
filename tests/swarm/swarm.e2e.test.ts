// The stack on a real Docker Swarm engine: the image built from deploy/Dockerfile, deploy/stack.yml
// deployed by deploy/stack-deploy (through the transform in tests/swarm/test-stack.ts, which says what
// this machine changes and why), Prometheus discovering its targets through the swarm API, the rules'
// series reaching the right InfluxDB through APP 2 and APP 3, the historic curl API across replicas,
// a function redeployed by deploy/redeploy while a client keeps calling, a broken one rolled back, and
// the files kept across `docker stack rm`. Single node; see the README for what it does not cover.
// The tests run in order and share one swarm; a failed step makes the later ones fail, not skip.
import { afterAll, expect, test } from "bun:test";
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { bundleFunctions, copyCheckout, repositoryFunctionBundles, sha256Of } from "../../harness/bundles.ts";
import { asSharedFolder } from "./shared-folder.ts";
import {
  CADVISOR_STANDIN_RULE,
  deployStack,
  eventually,
  HOST_PORTS,
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
  "docker-api": 1,
  "node-exporter": 1, // global, one node
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

async function fluxMeasurements(port: number, bucket: string): Promise<string[]> {
  const query =
    `from(bucket: "${bucket}/autogen") |> range(start: -1h) |> keep(columns: ["_measurement"]) |> group() |> distinct(column: "_measurement")`;
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
  // CSV rows: ,result,table,_value
  return [...new Set(text.split(/\r?\n/).map((row) => row.split(",")[3] ?? "").filter((v) => /^job_/.test(v)))].sort();
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
  for (const bucket of ["containers", "vms"]) {
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
  }
}, 60_000);

test("Prometheus finds node-exporter, every function replica and itself through the swarm API, all up", async () => {
  const s = need();
  const targets = await eventually("all targets up", 120_000, async () => {
    const body =
      (await (await fetch(`http://127.0.0.1:${HOST_PORTS.prometheus}/api/v1/targets?state=active`)).json()) as Any;
    const active = body.data.activeTargets as Any[];
    const byJob = (job: string) => active.filter((t) => t.labels.job === job);
    if (byJob("functions").length !== 5 || byJob("node").length !== 1 || byJob("prometheus").length !== 1) {
      throw new Error(`targets: ${active.map((t) => `${t.labels.job} ${t.scrapeUrl} ${t.health}`).join("; ")}`);
    }
    const down = active.filter((t) => t.health !== "up");
    if (down.length > 0) throw new Error(`down: ${down.map((t) => `${t.scrapeUrl} ${t.lastError}`).join("; ")}`);
    return active;
  });
  const node = targets.find((t) => t.labels.job === "node");
  expect(node.scrapeUrl).toBe(`http://${NODE_ADDRESS}:${HOST_PORTS.nodeExporter}/metrics`);
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
  const files = targets.filter((t) => t.labels.service === `${STACK}_files`).map((t) => t.labels.instance.split(":")[0])
    .sort();
  expect(files).toEqual((await taskAddresses(s, "files")).sort());
  // APP 1 is not on the monitoring network: a container there finds the remote-write services, not APP 1.
  const resolve = async (name: string) =>
    (await s.engine.docker(
      ["run", "--rm", "--network", "tarsd_monitoring", s.clientImage, "getent", "ahostsv4", name],
      { allowFail: true },
    )).code;
  expect({ files: await resolve("files"), rw: await resolve("remote-write-vms") }).toEqual({ files: 2, rw: 0 });
}, 180_000);

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
  const source = (target: string) =>
    target === "/etc/prometheus/rules/containers-standin.rules.yml"
      ? CADVISOR_STANDIN_RULE
      : join(s.root, "deploy", "prometheus", target.replace("/etc/prometheus/", ""));
  expect(specs.map((c) => c.File.Name).sort()).toEqual(
    [
      "/etc/prometheus/prometheus.yml",
      ...[...rules, "containers-standin.rules.yml"].map((r) => `/etc/prometheus/rules/${r}`),
    ].sort(),
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
    const containerRules = ruleNames(CADVISOR_STANDIN_RULE);
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

/** Runs the resolving client (tests/swarm/resolving-client.ts) in the client container around `during`. */
async function withClientCalling<T>(s: Swarm, during: () => Promise<T>): Promise<{ result: T; calls: Any }> {
  const stop = join(s.clientDir, "stop");
  rmSync(stop, { force: true });
  rmSync(join(s.clientDir, "calls.json"), { force: true });
  const client = s.client("bun /tests/resolving-client.ts files 5001 /files 4 /client/stop /client/calls.json", {
    timeoutMs: 900_000,
  });
  await Bun.sleep(2000);
  let result: T;
  try {
    result = await during();
    await Bun.sleep(5000); // the last replaced task's drain
  } finally {
    writeFileSync(stop, "");
    await client;
  }
  return { result, calls: JSON.parse(readFileSync(join(s.clientDir, "calls.json"), "utf8")) };
}

/**
 * `deploy/redeploy <fn>` run from `checkout`, an edited copy of the repository (harness/bundles.ts), given
 * the shared folder's modes first (every file 0640), as in the VMs.
 */
async function redeploy(s: Swarm, checkout: string, fn: string) {
  asSharedFolder(checkout);
  const child = Bun.spawn(["bash", join(checkout, "deploy", "redeploy"), fn], {
    env: s.deployEnv,
    stdout: "pipe",
    stderr: "pipe",
    timeout: 600_000,
  });
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { code, out: out + err };
}

test(
  "deploy/redeploy of upload and download at once (one service): serialised, start-first, 0 failed requests for a client resolving the name every time",
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

    const { result, calls } = await withClientCalling(
      s,
      () => Promise.all([redeploy(s, checkout, "upload"), redeploy(s, checkout, "download")]),
    );
    console.log(
      `redeploy under load: ${calls.ok} requests ok, ${calls.failed} failed, over ${calls.addresses.length} task addresses`,
    );
    for (const [fn, res] of [["upload", result[0]], ["download", result[1]]] as const) {
      expect({ fn, code: res.code, out: res.out }).toMatchObject({
        fn,
        code: 0,
        out: expect.stringContaining(`done: 1 of 1 service(s) updated to ${fn}@`),
      });
    }
    expect(result[0].out + result[1].out).toContain("another redeploy of stack tarsd is running; waiting for it");
    expect(calls.failures).toEqual([]);
    expect(calls.ok).toBeGreaterThan(1000);
    expect(calls.addresses.length).toBeGreaterThanOrEqual(9); // 3 tasks, replaced twice
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
