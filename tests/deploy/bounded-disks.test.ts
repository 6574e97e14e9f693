// Every consumer of the master's disk but the file store is bounded, and DiskAlmostFull fires while they
// all still fit (issue 25): checked on the configuration as the provisioners and the stack give it, since
// the VMs cannot run here (tests/vms checks the same on them where they run).
//   - Docker's log driver rotates: the common provisioner's daemon configuration, written by its own
//     function into a temporary directory, other keys kept;
//   - Prometheus' TSDB is bounded by size as well as time, both InfluxDB buckets by a retention;
//   - the bounds add up to less than DiskAlmostFull leaves free on the smallest disk;
//   - the file store's share is on /metrics of a runtime running upload and download.
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, requireBinary } from "../../harness/binaries.ts";
import { type RuntimeProcess, scratchDirs, startRuntime } from "../../harness/runtime-process.ts";
// deno-lint-ignore no-sloppy-imports -- plain JS, typed by web/prom.d.ts
import { parseMetrics, scalar } from "../../web/prom.js";

// YAML and JSON documents are free-form
// deno-lint-ignore no-explicit-any
type Any = any;

const DEPLOY = join(REPO_ROOT, "deploy");
const PROVISION_COMMON = join(DEPLOY, "vagrant", "provision-common.sh");
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** Swarm's default task history: the tasks kept per slot, the running one and stopped ones whose logs stay. */
const SWARM_TASKS_KEPT = 5;
/** deploy/README.md's estimate for both InfluxDB volumes together: InfluxDB has a retention, not a size bound. */
const INFLUX_ESTIMATE_BYTES = 256 * MiB;

// Read as written: none of the keys checked here takes a variable.
const stack = Bun.YAML.parse(readFileSync(join(DEPLOY, "stack.yml"), "utf8")) as Any;
const services = stack.services as Record<string, Any>;
const readme = readFileSync(join(DEPLOY, "README.md"), "utf8");
const budget = /^## Disk budget\n[^]*?(?=\n## )/m.exec(readme)?.[0] ?? "";

const scratch = scratchDirs(afterAll);

/** Sources the common provisioner (its functions only) and runs `script` after it, in bash. */
function provisionerFunction(script: string, args: string[]) {
  const res = Bun.spawnSync(["bash", "-c", `source "$0"; ${script}`, PROVISION_COMMON, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  return { code: res.exitCode, out: res.stdout.toString(), err: res.stderr.toString() };
}

/** The provisioner's docker_daemon_config on `file`: whether it changed it, and the file after. */
function writeDaemonConfig(file: string): { changed: boolean; config: Any } {
  const res = provisionerFunction('docker_daemon_config "$1"; echo "changed=$docker_config_changed"', [file]);
  expect({ code: res.code, err: res.err }).toEqual({ code: 0, err: "" });
  return { changed: res.out.includes("changed=true"), config: JSON.parse(readFileSync(file, "utf8")) };
}

/** Docker's sizes (go-units RAMInBytes: k, m, g are powers of 1024). */
function dockerBytes(size: string): number {
  const match = /^(\d+)([kmg]?)b?$/i.exec(size);
  if (!match) throw new Error(`not a Docker size: ${size}`);
  return Number(match[1]) * 1024 ** "_kmg".indexOf((match[2] || "_").toLowerCase());
}

/** Prometheus' sizes (powers of 1024 too). */
function prometheusBytes(size: string): number {
  const match = /^(\d+)(B|KB|MB|GB|TB)$/.exec(size);
  if (!match) throw new Error(`not a Prometheus size: ${size}`);
  return Number(match[1]) * 1024 ** ["B", "KB", "MB", "GB", "TB"].indexOf(match[2]!);
}

const prometheusFlag = (name: string): string | undefined =>
  (services.prometheus.command as string[]).find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1];

describe("Docker's log driver rotates (deploy/vagrant/provision-common.sh)", () => {
  test("a new VM: json-file with max-size and max-file; a second run changes nothing", () => {
    const file = join(scratch("tarsd-docker-etc-"), "etc", "docker", "daemon.json");
    const first = writeDaemonConfig(file);
    expect(first.changed).toBe(true);
    expect(first.config["log-driver"]).toBe("json-file");
    const opts = first.config["log-opts"];
    expect(Number(opts["max-file"])).toBeGreaterThanOrEqual(2);
    expect(dockerBytes(opts["max-size"])).toBeGreaterThanOrEqual(MiB);
    // no more than 50 MiB a container: the budget below counts it for every task swarm keeps
    expect(dockerBytes(opts["max-size"]) * Number(opts["max-file"])).toBeLessThanOrEqual(50 * MiB);
    const again = writeDaemonConfig(file);
    expect(again).toEqual({ changed: false, config: first.config });
  });

  test("an existing configuration keeps its other keys; another log driver goes with its options", () => {
    requireBinary("jq"); // what merges them (the provisioner installs it where it is missing)
    const dir = scratch("tarsd-docker-etc-");
    const kept = join(dir, "kept.json");
    writeFileSync(
      kept,
      JSON.stringify({ "data-root": "/srv/docker", "log-opts": { "max-size": "1g", tag: "{{.Name}}" } }),
    );
    const merged = writeDaemonConfig(kept);
    expect(merged.changed).toBe(true);
    expect(merged.config).toEqual({
      "data-root": "/srv/docker",
      "log-driver": "json-file",
      "log-opts": { "max-size": "5m", "max-file": "3", tag: "{{.Name}}" },
    });
    expect(writeDaemonConfig(kept).changed).toBe(false);

    const other = join(dir, "syslog.json");
    writeFileSync(
      other,
      JSON.stringify({ "log-driver": "syslog", "log-opts": { "syslog-address": "udp://10.0.0.1:514" } }),
    );
    expect(writeDaemonConfig(other).config).toEqual({
      "log-driver": "json-file",
      "log-opts": { "max-size": "5m", "max-file": "3" },
    });

    const broken = join(dir, "broken.json");
    writeFileSync(broken, "{ not json");
    const res = provisionerFunction('docker_daemon_config "$1"', [broken]);
    expect(res.code).not.toBe(0);
    expect(res.err).toContain(`${broken} is not a JSON object`);
    expect(readFileSync(broken, "utf8")).toBe("{ not json");
  });

  test("the provisioner writes it before Docker is installed or started, and restarts a Docker that ran before", () => {
    const script = readFileSync(PROVISION_COMMON, "utf8");
    const main = script.slice(script.indexOf("(return 0 2>/dev/null) && return 0"));
    const at = (text: string) => {
      const index = main.indexOf(text);
      expect({ text, found: index >= 0 }).toEqual({ text, found: true });
      return index;
    };
    expect(at("docker_daemon_config /etc/docker/daemon.json")).toBeLessThan(
      at('apt-get install -y -q "${missing[@]}"'),
    );
    expect(at("docker_daemon_config /etc/docker/daemon.json")).toBeLessThan(at("systemctl enable --now docker"));
    expect(at("systemctl enable --now docker")).toBeLessThan(at("systemctl restart docker"));
  });
});

describe("the stack's own stores are bounded", () => {
  test("Prometheus' TSDB: by size as well as by time", () => {
    expect(prometheusFlag("storage.tsdb.retention.time")).toMatch(/^\d+[dhw]$/);
    expect(prometheusBytes(prometheusFlag("storage.tsdb.retention.size") ?? "")).toBeGreaterThan(0);
    expect(budget).toContain(`--storage.tsdb.retention.size=${prometheusFlag("storage.tsdb.retention.size")}`);
  });

  test("both InfluxDB buckets, the one APP 2 writes and the one APP 3 writes, have a retention", () => {
    const buckets: string[] = [];
    for (const writer of ["remote-write-containers", "remote-write-vms"]) {
      const env = services[writer].environment;
      const influx = services[new URL(env.INFLUX_URL).hostname];
      // InfluxDB's image sets up the bucket with its retention on an empty volume
      expect({
        writer,
        setup: influx.environment.DOCKER_INFLUXDB_INIT_MODE,
        bucket: influx.environment.DOCKER_INFLUXDB_INIT_BUCKET,
      })
        .toEqual({ writer, setup: "setup", bucket: env.INFLUX_BUCKET });
      const retention = String(influx.environment.DOCKER_INFLUXDB_INIT_RETENTION ?? "");
      expect({ writer, retention }).toEqual({ writer, retention: expect.stringMatching(/^[1-9]\d*[dhw]$/) });
      // documented: the bucket, its retention, its size an estimate
      expect(budget).toMatch(new RegExp(`InfluxDB \`${env.INFLUX_BUCKET}\`[^\\n]*${retention}[^\\n]*estimate`));
      buckets.push(env.INFLUX_BUCKET);
    }
    expect(buckets.sort()).toEqual(["containers", "vms"]);
  });

  test("the bounded consumers together fit in what DiskAlmostFull leaves free on the smallest disk", () => {
    const daemon = writeDaemonConfig(join(scratch("tarsd-docker-etc-"), "daemon.json")).config;
    const perContainer = dockerBytes(daemon["log-opts"]["max-size"]) * Number(daemon["log-opts"]["max-file"]);
    // Worst case: every replica on the master (the slave away), each slot with the tasks swarm keeps.
    const slots = Object.values(services).reduce(
      (n, s) => n + (s.deploy?.mode === "global" ? 1 : Number(s.deploy?.replicas ?? 1)),
      0,
    );
    const logs = slots * SWARM_TASKS_KEPT * perContainer;
    const tsdb = prometheusBytes(prometheusFlag("storage.tsdb.retention.size")!);
    const spools = Object.values(services).reduce(
      (n, s) => n + Number(s.environment?.REMOTE_WRITE_SPOOL_MAX_BYTES ?? 0),
      0,
    );
    expect(spools).toBe(2 * 512 * MiB);
    const bounded = logs + tsdb + INFLUX_ESTIMATE_BYTES + spools;

    const diskGiB = Number(/^DISK_GB=(\d+)/m.exec(readFileSync(join(DEPLOY, "vagrant", "build-box"), "utf8"))![1]);
    const alerts = Bun.YAML.parse(readFileSync(join(DEPLOY, "prometheus", "rules", "alerts.rules.yml"), "utf8")) as Any;
    const diskAlmostFull = alerts.groups.flatMap((g: Any) => g.rules).find((r: Any) => r.alert === "DiskAlmostFull");
    const threshold = Number(/\/\s*node_filesystem_size_bytes\{[^}]*\}\s*<\s*(0\.\d+)/.exec(diskAlmostFull.expr)![1]);
    expect({ bounded, fits: bounded <= threshold * diskGiB * GiB }).toEqual({ bounded, fits: true });

    // The figures deploy/README.md gives are these (a new service or bound means a new budget).
    expect(budget).toContain(`${slots} task slots`);
    expect(budget).toContain(`${Math.round(logs / MiB)} MiB`);
    expect(budget).toContain(`~${(bounded / GiB).toFixed(1)} GiB`);
    expect(budget).toContain(`${Math.round(threshold * 100)}%`);
  });
});

describe("the file store's share of the disk on /metrics (upload and download in one runtime)", () => {
  let runtime: RuntimeProcess | undefined;
  let reader: RuntimeProcess | undefined;
  afterAll(async () => {
    await Promise.all([runtime?.stop(), reader?.stop()]);
  });

  /** Polls `url`/metrics until `done` holds for its samples; the last text. */
  async function metricsUntil(url: string, done: (text: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await (await fetch(`${url}/metrics`)).text();
      if (done(text) || Date.now() > deadline) return text;
      await Bun.sleep(100);
    }
  }
  const value = (text: string, name: string) => scalar(parseMetrics(text), name);

  /** The blobs' sizes on disk, summed (each stored version once). */
  function blobBytes(dataDir: string): number {
    const blobs = join(dataDir, "store", "blobs");
    return readdirSync(blobs).flatMap((prefix) => readdirSync(join(blobs, prefix)).map((b) => join(blobs, prefix, b)))
      .reduce((n, path) => n + statSync(path).size, 0);
  }

  test(
    "store bytes are the blobs' after two uploads; uploads in progress apart; the filesystem's size > free > 0",
    async () => {
      const dataDir = scratch("tarsd-store-metrics-");
      // A housekeeping pass (and so a measurement) every second instead of every 10 minutes.
      runtime = await startRuntime({
        FUNCTIONS: "upload,download",
        GC_INTERVAL_SECONDS: "1",
        LOG_REQUESTS: "0",
        DATA_DIR: dataDir,
      });
      const form = new FormData();
      form.append("file", new File([new Uint8Array(70_000).fill(7)], "first.bin"));
      expect((await fetch(`${runtime.url}/upload`, { method: "POST", body: form })).status).toBe(201);
      expect(
        (await fetch(`${runtime.url}/files/second.bin`, { method: "PUT", body: new Uint8Array(12_345).fill(3) }))
          .status,
      )
        .toBe(201);
      // the same bytes again under another name: stored once
      expect(
        (await fetch(`${runtime.url}/files/again.bin`, { method: "PUT", body: new Uint8Array(12_345).fill(3) })).status,
      )
        .toBe(201);
      // a resumable upload, 4000 of its 10000 bytes in
      const created = await fetch(`${runtime.url}/uploads`, {
        method: "POST",
        headers: {
          "tus-resumable": "1.0.0",
          "upload-length": "10000",
          "upload-metadata": `filename ${btoa("tus.bin")}`,
        },
      });
      expect(created.status).toBe(201);
      const patched = await fetch(new URL(created.headers.get("location")!, runtime.url), {
        method: "PATCH",
        headers: { "tus-resumable": "1.0.0", "upload-offset": "0", "content-type": "application/offset+octet-stream" },
        body: new Uint8Array(4000),
      });
      expect(patched.status).toBe(204);

      const expected = 70_000 + 12_345;
      const text = await metricsUntil(
        runtime.url,
        (t) =>
          value(t, "tarsd_files_store_bytes") === expected &&
          (value(t, "tarsd_files_store_uploads_bytes") ?? 0) >= 4000,
      );
      expect(value(text, "tarsd_files_store_bytes")).toBe(expected);
      expect(blobBytes(dataDir)).toBe(expected);
      expect(value(text, "tarsd_files_store_uploads_bytes")).toBeGreaterThanOrEqual(4000);
      expect(value(text, "tarsd_files_store_uploads_bytes")).toBeLessThan(4000 + 64 * 1024); // the bytes and their bookkeeping

      const size = value(text, "tarsd_files_filesystem_size_bytes")!;
      const avail = value(text, "tarsd_files_filesystem_avail_bytes")!;
      expect(size).toBeGreaterThan(avail);
      expect(avail).toBeGreaterThan(0);
      const fs = statfsSync(dataDir);
      expect(size).toBe(fs.blocks * fs.bsize);

      // A replica running only download (no housekeeping of its own) reports the same figures: they are
      // kept in the shared store.
      reader = await startRuntime({ FUNCTIONS: "download", LOG_REQUESTS: "0", DATA_DIR: dataDir });
      const read = await (await fetch(`${reader.url}/metrics`)).text();
      expect(value(read, "tarsd_files_store_bytes")).toBe(expected);
      expect(value(read, "tarsd_files_filesystem_size_bytes")).toBe(size);
    },
    60_000,
  );
});
