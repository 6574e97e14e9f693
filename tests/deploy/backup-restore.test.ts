// deploy/backup while uploads and InfluxDB writes run, then deploy/restore into an empty deployment, as
// issue 25 asks: every file acknowledged before the backup began downloads from the restored store with
// its sha256, no name is without its blob, and every InfluxDB point written before the backup began is
// there again (counted by measurement and series).
//
// What runs for real: the runtime (upload, download) on a store directory, with a collector removing
// replaced versions at once (no grace) while the backup reads the store; two InfluxDB 1.8 servers
// (harness/influxdb.ts) standing for influxdb-containers and influxdb-vms, and two fresh ones for the new
// deployment; both scripts, from copies with the shared folder's modes (backup: the files provisioning
// installs for the timer; restore: the checkout), and deploy/store-backup.ts under the bun on PATH.
// What is stood in for: `docker` (tests/deploy/backup-fake-docker.sh: `docker run` of the runtime image
// runs its bun here with the volumes' paths mapped, `docker exec <InfluxDB> influx ...` runs the swarm
// test's stand-in influx CLI, which maps `influx backup` and `influx restore --full` onto InfluxDB 1.8's own
// portable backup), the swarm's secrets and volumes (files), and the stack's deploy (a script that
// records what it found and starts the fresh InfluxDB "containers").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, requireBinary } from "../../harness/binaries.ts";
import { runCommand } from "../../harness/child-process.ts";
import { type InfluxDb, startInfluxDb } from "../../harness/influxdb.ts";
import { type RuntimeProcess, startRuntime, tempDir } from "../../harness/runtime-process.ts";
import { readManifest } from "../../deploy/store-backup.ts";
import { pointerTarget, StoreLayout } from "../../lib/files/store-layout.ts";
import { asSharedFolder, copyAsSharedFolder } from "../swarm/shared-folder.ts";
import { fakeDockerDir } from "./fake-docker.ts";

const FAKE_DOCKER = readFileSync(join(import.meta.dir, "backup-fake-docker.sh"), "utf8");
const STANDIN_INFLUX = join(REPO_ROOT, "tests", "swarm", "standins", "influxdb", "influx");
const IMAGE = "tarsd.local/runtime:backup-test";
const INSTANCES = ["containers", "vms"] as const;
type Instance = (typeof INSTANCES)[number];
const MEASUREMENTS = ["cpu", "mem", "disk"];
const HOSTS = ["h0", "h1", "h2", "h3"];

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");
const sha16 = (text: string) => sha256(text).slice(0, 16);
const dirs: string[] = [];
const temp = (prefix: string) => {
  const dir = tempDir(prefix);
  dirs.push(dir);
  return dir;
};

/** The files provisioning copies for the timer (deploy/vagrant/provision-master.sh's BACKUP_FILES). */
function installedBackupFiles(): string[] {
  const script = readFileSync(join(REPO_ROOT, "deploy", "vagrant", "provision-master.sh"), "utf8");
  const list = /^BACKUP_FILES=\(([^)]*)\)$/m.exec(script);
  if (!list) throw new Error("provision-master.sh has no BACKUP_FILES=(...) line");
  return list[1]!.trim().split(/\s+/);
}

/** A copy of `files` (paths in this repository) laid out as the shared folder (0640, 0750). */
function copyOf(prefix: string, files: string[]): string {
  const root = temp(prefix);
  for (const file of files) {
    mkdirSync(join(root, file, ".."), { recursive: true });
    cpSync(join(REPO_ROOT, file), join(root, file), { recursive: true });
  }
  return asSharedFolder(root);
}

interface Master {
  docker: { dir: string; bin: string; state: string };
  dataDir: string;
  secretsDir: string;
  configDir: string;
  backupDir: string;
}

/** A master's directories and its stand-in docker. */
function newMaster(prefix: string): Master {
  const docker = fakeDockerDir(`tarsd-${prefix}-docker-`, FAKE_DOCKER);
  dirs.push(docker.dir);
  for (const dir of ["running", "containers", "volumes", "secrets"]) mkdirSync(join(docker.state, dir));
  const root = temp(`tarsd-${prefix}-`);
  const master = {
    docker,
    dataDir: join(root, "srv-tarsd-data"),
    secretsDir: join(root, "etc-tarsd", "secrets"),
    configDir: join(root, "etc-tarsd"),
    backupDir: join(root, "var-backups-tarsd"),
  };
  mkdirSync(master.dataDir, { recursive: true });
  mkdirSync(master.secretsDir, { recursive: true, mode: 0o700 });
  return master;
}

/** A running InfluxDB "container" of service tarsd_influxdb-<instance> on this master. */
function runContainer(master: Master, id: string, instance: Instance, influx: InfluxDb) {
  mkdirSync(join(master.docker.state, "containers", id, "root", "tmp"), { recursive: true });
  writeFileSync(
    join(master.docker.state, "containers", id, "env"),
    `INFLUX_HOST=${influx.url}\nINFLUXD_RPC=${influx.rpcAddress}\n`,
  );
  writeFileSync(join(master.docker.state, "running", `tarsd_influxdb-${instance}`), `${id}\n`);
}

/** The secrets a deployed master has: stack-deploy's (random) and the minted tokens with their records. */
function writeSecrets(master: Master): Record<string, string> {
  const values: Record<string, string> = {};
  const write = (name: string, value: string, swarmName = name) => {
    writeFileSync(join(master.secretsDir, name), value, { mode: 0o600 });
    writeFileSync(join(master.docker.state, "secrets", swarmName), value);
    values[name] = value;
  };
  for (
    const name of [
      "tarsd_auth_token",
      "tarsd_rw_containers_token",
      "tarsd_rw_vms_token",
      "tarsd_influx_containers_token",
      "tarsd_influx_vms_token",
      "tarsd_influx_password",
      "tarsd_grafana_admin_password",
      "tarsd_influx_token_pending",
    ]
  ) write(name, `${randomBytes(24).toString("hex")}\n`);
  for (const instance of INSTANCES) {
    for (const action of ["write", "read"]) {
      const name = `tarsd_influx_${instance}_${action}_token`;
      const token = randomBytes(24).toString("hex");
      const secret = `${name}_${sha256(token).slice(0, 8)}`;
      write(name, token, secret);
      writeFileSync(join(master.secretsDir, `${name}.secret`), `${secret}\n`);
      values[`${name}.secret`] = `${secret}\n`;
    }
  }
  return values;
}

/** A deploy script as the master runs it: the fake docker first on PATH, the test's directories. */
function run(cmd: string[], master: Master, env: Record<string, string> = {}) {
  return runCommand(cmd, {
    cwd: REPO_ROOT,
    env: {
      PATH: `${master.docker.bin}:${process.env.PATH}`,
      HOME: master.docker.dir,
      FAKE_STATE: master.docker.state,
      FAKE_INFLUX: STANDIN_INFLUX,
      FAKE_PATH: `${join(REPO_ROOT, ".tools", "bin")}:/usr/local/bin:/usr/bin:/bin`,
      FAKE_RUNTIME_IMAGE: IMAGE,
      TARSD_IMAGE: IMAGE,
      TARSD_BACKUP_DIR: master.backupDir,
      TARSD_DATA_DIR: master.dataDir,
      TARSD_SECRETS_DIR: master.secretsDir,
      TARSD_CONFIG_DIR: master.configDir,
      ...env,
    },
  });
}

const calls = (master: Master) =>
  existsSync(join(master.docker.state, "calls.log"))
    ? readFileSync(join(master.docker.state, "calls.log"), "utf8").trim().split("\n")
    : [];

/** Every name of a store points at a blob that is there and hashes to its name: name -> sha256. */
function walkStore(storeDir: string): Record<string, string> {
  const layout = new StoreLayout(storeDir);
  const names: Record<string, string> = {};
  for (const name of readdirSync(layout.namesDir)) {
    const target = readlinkSync(join(layout.namesDir, name));
    const hash = target.slice(target.lastIndexOf("/") + 1);
    expect({ name, target }).toEqual({ name, target: pointerTarget(hash) });
    const blob = layout.blobPath(hash);
    expect({ name, blob: existsSync(blob) }).toEqual({ name, blob: true });
    expect({ name, sha256: sha256(readFileSync(blob)) }).toEqual({ name, sha256: hash });
    names[name] = hash;
  }
  return names;
}

/** Points counted by measurement and series (its host tag), up to `until` (ns, inclusive). */
async function countBySeries(influx: InfluxDb, database: string, until: bigint): Promise<Record<string, number>> {
  const series = await influx.influxql(
    database,
    `SELECT count("value") FROM ${MEASUREMENTS.map((m) => `"${m}"`).join(",")} WHERE time <= ${until} GROUP BY *`,
  );
  return Object.fromEntries(series.map((s) => [`${s.name},host=${s.tags?.host}`, Number(s.values[0]![1])]));
}

// ---------------------------------------------------------------------------------------------------

const influx = {} as Record<"old" | "fresh", Record<Instance, InfluxDb>>;
let runtime: RuntimeProcess | undefined;
let restoredRuntime: RuntimeProcess | undefined;
let oldMaster: Master;
let newMasterState: Master;
let backupRoot: string;
let restoreRoot: string;

beforeAll(async () => {
  requireBinary("wget"); // the stand-in influx CLI's HTTP client
  influx.old = {} as Record<Instance, InfluxDb>;
  influx.fresh = {} as Record<Instance, InfluxDb>;
  for (const instance of INSTANCES) {
    influx.old[instance] = await startInfluxDb({ databases: [instance], rpc: true });
    // A fresh deployment's: set up with its bucket, empty.
    influx.fresh[instance] = await startInfluxDb({ databases: [instance], rpc: true });
  }
  backupRoot = copyOf("tarsd-backup-installed-", installedBackupFiles());
  restoreRoot = copyAsSharedFolder(temp("tarsd-restore-checkout-"));
}, 120_000);

afterAll(async () => {
  await runtime?.stop();
  await restoredRuntime?.stop();
  for (const side of [influx.old, influx.fresh]) {
    for (const instance of INSTANCES) {
      await side?.[instance]?.stop();
      if (side?.[instance]) rmSync(side[instance].dataDir, { recursive: true, force: true });
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("deploy/backup and deploy/restore", () => {
  test("--help prints the usage and touches nothing; a wrong argument is refused", async () => {
    const master = newMaster("help");
    for (const script of ["backup", "restore"]) {
      const help = await run(["bash", join(REPO_ROOT, "deploy", script), "--help"], master);
      expect({ code: help.code, err: help.err }).toEqual({ code: 0, err: "" });
      expect(help.out).toStartWith(`usage: deploy/${script}`);
      const bad = await run(["bash", join(REPO_ROOT, "deploy", script), "--no-such-flag"], master);
      expect(bad.code).toBe(2);
      expect(bad.err).toStartWith(`usage: deploy/${script}`);
    }
    expect((await run(["bash", join(REPO_ROOT, "deploy", "restore")], master)).code).toBe(2);
    expect(calls(master)).toEqual([]);
    expect(existsSync(master.backupDir)).toBe(false);
    expect(readdirSync(master.dataDir)).toEqual([]);
  });

  test("shellcheck passes on both scripts and the stand-in docker; systemd accepts the timer's units", () => {
    const res = Bun.spawnSync([
      requireBinary("shellcheck"),
      "--severity=style",
      join(REPO_ROOT, "deploy", "backup"),
      join(REPO_ROOT, "deploy", "restore"),
      join(import.meta.dir, "backup-fake-docker.sh"),
    ], { stdout: "pipe", stderr: "pipe" });
    expect(res.stdout.toString() + res.stderr.toString()).toBe("");
    expect(res.exitCode).toBe(0);
    const units = ["tarsd-backup.service", "tarsd-backup.timer"].map((u) => join(REPO_ROOT, "deploy", "systemd", u));
    const verify = Bun.spawnSync([requireBinary("systemd-analyze"), "verify", ...units], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(verify.stdout.toString() + verify.stderr.toString()).toBe("");
    expect(verify.exitCode).toBe(0);
    const service = readFileSync(units[0]!, "utf8");
    expect(service).toContain("ExecStart=/bin/bash /usr/local/lib/tarsd/deploy/backup");
    expect(installedBackupFiles()).toContain("deploy/backup");
  });

  test(
    "backup while uploads and writes run, restore into an empty deployment: every file and point acknowledged before the backup began is there",
    async () => {
      // ---- the deployed master ----
      oldMaster = newMaster("old-master");
      const secrets = writeSecrets(oldMaster);
      writeFileSync(join(oldMaster.configDir, "app1-auth"), "1\n");
      writeFileSync(join(oldMaster.configDir, "backup.env"), "TARSD_BACKUP_KEEP=2\n");
      for (const instance of INSTANCES) runContainer(oldMaster, `old-${instance}`, instance, influx.old[instance]);
      runtime = await startRuntime({
        FUNCTIONS: "upload,download",
        DATA_DIR: oldMaster.dataDir,
        // Replaced versions go at once: the backup reads a store whose blobs vanish under it.
        GC_INTERVAL_SECONDS: "1",
        GC_GRACE_SECONDS: "0",
      });
      const url = runtime.url;

      // ---- the load: bounded, running until the backup is over ----
      let backupStarted = false;
      let stop = false;
      const acked = new Map<string, { sha256: string; before: boolean }>();
      const churnVersions = new Map<string, Set<string>>(); // every version ever sent, acknowledged or not
      const failures: string[] = [];
      const sizes = [0, 1, 100, 4096, 65_536, 300_000, 1_500_000];
      const uploader = async (worker: number) => {
        for (let i = 0; !stop; i++) {
          const size = sizes[Math.floor(Math.random() * (i % 10 === 9 ? sizes.length : sizes.length - 1))]!;
          const body = randomBytes(size);
          const name = `w${worker}-${i}.bin`;
          const res = await fetch(`${url}/files/${name}`, { method: "PUT", body });
          const answer = await res.json() as { sha256?: string };
          if (res.status !== 201 || answer.sha256 !== sha256(body)) failures.push(`${name}: ${res.status}`);
          else acked.set(name, { sha256: sha256(body), before: !backupStarted });
        }
      };
      const churner = async () => {
        for (let i = 0; !stop; i++) {
          const name = `churn-${i % 5}`;
          if (i % 4 === 3) {
            const res = await fetch(`${url}/files/${name}`, { method: "DELETE" });
            if (res.status !== 204 && res.status !== 404) failures.push(`delete ${name}: ${res.status}`);
            await res.arrayBuffer();
            continue;
          }
          const body = randomBytes(1000 + i);
          const versions = churnVersions.get(name) ?? new Set<string>();
          churnVersions.set(name, versions.add(sha256(body)));
          const res = await fetch(`${url}/files/${name}`, { method: "PUT", body });
          await res.arrayBuffer();
          if (res.status !== 201 && res.status !== 200) failures.push(`${name}: ${res.status}`);
        }
      };
      // One writer per InfluxDB: each batch one point of every series, timestamps rising batch by batch.
      const batchesBefore = { containers: 0, vms: 0 } as Record<Instance, number>;
      const lastBefore = { containers: 0n, vms: 0n } as Record<Instance, bigint>;
      const writer = async (instance: Instance) => {
        const base = BigInt(Date.now()) * 1_000_000n;
        for (let batch = 0; !stop; batch++) {
          const ts = base + BigInt(batch) * 1000n;
          const lines = MEASUREMENTS.flatMap((m) => HOSTS.map((h) => `${m},host=${h} value=${batch} ${ts}`));
          const res = await fetch(`${influx.old[instance].url}/api/v2/write?bucket=${instance}&precision=ns`, {
            method: "POST",
            body: lines.join("\n"),
          });
          await res.arrayBuffer();
          if (res.status !== 204) failures.push(`write ${instance}: ${res.status}`);
          else if (!backupStarted) {
            batchesBefore[instance]++;
            lastBefore[instance] = ts;
          }
          await Bun.sleep(5);
        }
      };
      const load = Promise.all([0, 1, 2].map(uploader).concat(churner(), ...INSTANCES.map(writer)));
      const deadline = Date.now() + 30_000;
      while ((acked.size < 60 || batchesBefore.vms < 20) && Date.now() < deadline) await Bun.sleep(50);

      // ---- the backup, from the files the timer runs ----
      backupStarted = true;
      const backup = await run(["bash", join(backupRoot, "deploy", "backup")], oldMaster, { TARSD_BACKUP_KEEP: "2" });
      const ackedDuring = [...acked.values()].filter((a) => !a.before).length;
      stop = true;
      await load;
      expect({ code: backup.code, err: backup.err.split("\n").filter((l) => !/^INFO: |^$/.test(l)) }).toEqual({
        code: 0,
        err: [],
      });
      expect(failures).toEqual([]);
      expect(ackedDuring).toBeGreaterThan(0); // uploads went on while the backup ran
      const before = [...acked].filter(([, a]) => a.before);
      expect(before.length).toBeGreaterThanOrEqual(60);

      // One complete backup, named by its time, root's alone; nothing left behind in the containers.
      const backups = readdirSync(oldMaster.backupDir).filter((e) => e !== ".lock");
      expect(backups).toHaveLength(1);
      expect(backups[0]).toMatch(/^\d{8}T\d{6}Z$/);
      const backupPath = join(oldMaster.backupDir, backups[0]!);
      expect(statSync(oldMaster.backupDir).mode & 0o777).toBe(0o700);
      expect(readdirSync(backupPath).sort()).toEqual(["config", "files", "influxdb", "manifest.json", "secrets"]);
      for (const name of Object.keys(secrets)) {
        expect({ name, mode: statSync(join(backupPath, "secrets", name)).mode & 0o777 }).toEqual({ name, mode: 0o600 });
        expect(readFileSync(join(backupPath, "secrets", name), "utf8")).toBe(secrets[name]!);
      }
      for (const instance of INSTANCES) {
        expect(readdirSync(join(oldMaster.docker.state, "containers", `old-${instance}`, "root", "tmp"))).toEqual([]);
      }
      const manifest = readManifest(backupPath);
      const { names: _, ...report } = manifest.files;
      console.log(JSON.stringify({
        acknowledgedBefore: before.length,
        acknowledgedDuring: ackedDuring,
        batchesBefore,
        backup: { names: Object.keys(manifest.files.names).length, ...report },
      }));
      expect(manifest.influxdb).toEqual(["containers", "vms"]);
      expect(manifest.files.problems).toEqual([]);
      // Every file acknowledged before the backup began is in it, with its sha256.
      for (const [name, { sha256: hash }] of before) {
        expect({ name, sha256: manifest.files.names[name]?.sha256 }).toEqual({ name, sha256: hash });
      }
      expect(walkStore(join(backupPath, "files"))).toEqual(
        Object.fromEntries(Object.entries(manifest.files.names).map(([name, n]) => [name, n.sha256])),
      );
      // The store was read through the read-only data mount, with no network, by the runtime image.
      const runs = calls(oldMaster).filter((c) => c.startsWith("docker run "));
      expect(runs.length).toBe(2);
      for (const call of runs) {
        expect(call).toContain(`--network none`);
        expect(call).toContain(`--volume ${oldMaster.dataDir}:/data:ro`);
        expect(call).toContain(`--entrypoint bun ${IMAGE} deploy/store-backup.ts`);
      }
      // InfluxDB's backups were made with each instance's admin token, never on a command line.
      const cliCalls = readFileSync(join(oldMaster.docker.state, "influx-cli.log"), "utf8").trim().split("\n").map((
        l,
      ) => JSON.parse(l) as { host: string; token_sha256: string; args: string[] });
      expect(cliCalls.map((c) => ({ ...c, args: c.args.map((a) => a.replace(/\/tmp\/.*$/, "/tmp/…")) }))).toEqual(
        INSTANCES.map((instance) => ({
          host: influx.old[instance].url,
          org: "",
          token_sha256: sha16(secrets[`tarsd_influx_${instance}_token`]!.trim()),
          args: ["backup", "/tmp/…"],
        })),
      );
      for (const value of Object.values(secrets)) {
        expect(readFileSync(join(oldMaster.docker.state, "calls.log"), "utf8")).not.toContain(value.trim());
      }

      // ---- the new master: freshly provisioned, its stack deployed with new secrets ----
      const fresh = newMaster("new-master");
      newMasterState = fresh;
      const freshSecrets = writeSecrets(fresh);
      writeFileSync(join(fresh.configDir, "app1-auth"), "0\n");
      writeFileSync(join(fresh.configDir, "backup.env"), "TARSD_BACKUP_DIR=/mnt/elsewhere\n");
      writeFileSync(join(fresh.docker.state, "stack"), "");
      for (const instance of INSTANCES) {
        runContainer(fresh, `setup-${instance}`, instance, influx.fresh[instance]);
        for (const kind of ["data", "config"]) {
          writeFileSync(join(fresh.docker.state, "volumes", `tarsd_influxdb-${instance}-${kind}`), "");
        }
      }
      // The deploy: records what it finds, then the stack's InfluxDB containers run (set up anew).
      const deployScript = join(fresh.docker.dir, "deploy-stub");
      writeFileSync(
        deployScript,
        `#!/usr/bin/env bash
set -euo pipefail
at="$FAKE_STATE/at-deploy"
mkdir "$at"
cp -a "$TARSD_SECRETS_DIR" "$at/secrets-dir"
ls "$FAKE_STATE/secrets" >"$at/swarm-secrets"
ls "$FAKE_STATE/volumes" >"$at/volumes"
ls "$TARSD_DATA_DIR/store/names" | wc -l >"$at/names"
touch "$FAKE_STATE/stack"
${INSTANCES.map((i) => `echo new-${i} >"$FAKE_STATE/running/tarsd_influxdb-${i}"`).join("\n")}
`,
      );
      for (const instance of INSTANCES) {
        mkdirSync(join(fresh.docker.state, "containers", `new-${instance}`, "root", "tmp"), { recursive: true });
        writeFileSync(
          join(fresh.docker.state, "containers", `new-${instance}`, "env"),
          `INFLUX_HOST=${influx.fresh[instance].url}\nINFLUXD_RPC=${influx.fresh[instance].rpcAddress}\n`,
        );
      }
      // The backup, copied over to the new master (its names are relative symlinks: copied as they are).
      mkdirSync(fresh.backupDir, { mode: 0o700 });
      cpSync(backupPath, join(fresh.backupDir, backups[0]!), { recursive: true, verbatimSymlinks: true });

      const restore = await run(["bash", join(restoreRoot, "deploy", "restore"), backups[0]!], fresh, {
        TARSD_RESTORE_DEPLOY: `bash ${deployScript}`,
        TARSD_STORE_OWNER: "4242:4243",
        TARSD_RESTORE_TIMEOUT: "20",
      });
      expect({ code: restore.code, err: restore.err.split("\n").filter((l) => !/^INFO: |^$/.test(l)) }).toEqual({
        code: 0,
        err: [],
      });
      expect(restore.out).toContain(`restore of ${join(fresh.backupDir, backups[0]!)} complete`);

      // When the stack was deployed: the backup's secrets in place, the swarm secrets made from the old
      // files gone (stack-deploy makes them again from the restored files), the minted ones made; the
      // store restored; InfluxDB's volumes gone (set up anew, with the backup's admin token).
      const at = join(fresh.docker.state, "at-deploy");
      for (const [name, value] of Object.entries(secrets)) {
        expect({ name, value: readFileSync(join(at, "secrets-dir", name), "utf8") }).toEqual({ name, value });
      }
      const swarmSecrets = readFileSync(join(at, "swarm-secrets"), "utf8").trim().split("\n").sort();
      const oldRecords = Object.entries(secrets).filter(([n]) => n.endsWith(".secret")).map(([, v]) => v.trim());
      const freshRecords = Object.entries(freshSecrets).filter(([n]) => n.endsWith(".secret")).map(([, v]) => v.trim());
      expect(swarmSecrets).toEqual([...oldRecords, ...freshRecords].sort());
      expect(readFileSync(join(at, "volumes"), "utf8")).toBe("");
      expect(Number(readFileSync(join(at, "names"), "utf8"))).toBe(Object.keys(manifest.files.names).length);
      expect(readFileSync(join(fresh.configDir, "app1-auth"), "utf8")).toBe("1\n");
      expect(readFileSync(join(fresh.configDir, "backup.env"), "utf8")).toBe("TARSD_BACKUP_DIR=/mnt/elsewhere\n");
      for (const instance of INSTANCES) {
        expect(readdirSync(join(fresh.docker.state, "containers", `new-${instance}`, "root", "tmp"))).toEqual([]);
      }

      // The restored store: every name has its blob, owned by the runtime's user; served by a runtime.
      const storeDir = join(fresh.dataDir, "store");
      const restoredNames = walkStore(storeDir);
      expect(restoredNames).toEqual(
        Object.fromEntries(Object.entries(manifest.files.names).map(([name, n]) => [name, n.sha256])),
      );
      const someName = Object.keys(restoredNames)[0]!;
      expect([lstatSync(join(storeDir, "names", someName)).uid, lstatSync(join(storeDir, "names", someName)).gid])
        .toEqual([4242, 4243]);
      restoredRuntime = await startRuntime({ FUNCTIONS: "upload,download", DATA_DIR: fresh.dataDir });
      for (const [name, { sha256: hash }] of before) {
        const res = await fetch(`${restoredRuntime.url}/files/${name}`);
        const body = new Uint8Array(await res.arrayBuffer());
        expect({ name, status: res.status, sha256: sha256(body) }).toEqual({ name, status: 200, sha256: hash });
      }
      for (const [name, versions] of churnVersions) {
        const res = await fetch(`${restoredRuntime.url}/files/${name}`);
        const body = new Uint8Array(await res.arrayBuffer());
        if (res.status !== 404) expect({ name, known: versions.has(sha256(body)) }).toEqual({ name, known: true });
      }

      // Every point written before the backup began, by measurement and series, in the fresh InfluxDBs.
      for (const instance of INSTANCES) {
        const expected = Object.fromEntries(
          MEASUREMENTS.flatMap((m) => HOSTS.map((h) => [`${m},host=${h}`, batchesBefore[instance]])),
        );
        expect(batchesBefore[instance]).toBeGreaterThan(0);
        expect(await countBySeries(influx.old[instance], instance, lastBefore[instance])).toEqual(expected);
        expect({ instance, counts: await countBySeries(influx.fresh[instance], instance, lastBefore[instance]) })
          .toEqual({ instance, counts: expected });
      }
      // The restore's influx calls: the backup's admin token, a full restore.
      const restoreCalls = readFileSync(join(fresh.docker.state, "influx-cli.log"), "utf8").trim().split("\n").map((
        l,
      ) => JSON.parse(l) as { token_sha256: string; args: string[] }).filter((c) => c.args[0] === "restore");
      expect(restoreCalls.map((c) => [c.token_sha256, c.args.slice(0, 2)])).toEqual(
        INSTANCES.map((i) => [sha16(secrets[`tarsd_influx_${i}_token`]!.trim()), ["restore", "--full"]]),
      );
    },
    300_000,
  );

  test("a store with files is refused without --force, before anything is changed", async () => {
    const master = newMasterState;
    const [name] = readdirSync(master.backupDir).filter((e) => /Z$/.test(e));
    rmSync(join(master.docker.state, "calls.log"));
    const before = readdirSync(master.secretsDir).map((f) => [f, readFileSync(join(master.secretsDir, f), "utf8")]);
    const res = await run(["bash", join(restoreRoot, "deploy", "restore"), name!], master, {
      TARSD_RESTORE_DEPLOY: "false",
    });
    expect(res.code).toBe(1);
    expect(res.err).toContain("has files: restoring over it needs --force");
    expect(calls(master).map((c) => c.split(" ").slice(0, 2).join(" "))).toEqual(["docker run", "docker run"]);
    expect(existsSync(join(master.docker.state, "stack"))).toBe(true);
    expect(readdirSync(master.secretsDir).map((f) => [f, readFileSync(join(master.secretsDir, f), "utf8")])).toEqual(
      before,
    );
  });

  test(
    "later backups link the blobs they share with the previous one, and only the newest TARSD_BACKUP_KEEP stay",
    async () => {
      const master = oldMaster;
      const [first] = readdirSync(master.backupDir).filter((e) => /Z$/.test(e));
      for (let i = 0; i < 2; i++) {
        const res = await run(["bash", join(backupRoot, "deploy", "backup")], master, { TARSD_BACKUP_KEEP: "2" });
        expect({ code: res.code, err: res.err.split("\n").filter((l) => !/^INFO: |^$/.test(l)) }).toEqual({
          code: 0,
          err: [],
        });
        if (i === 1) expect(res.out).toContain(`removed the older backup ${join(master.backupDir, first!)}`);
      }
      const kept = readdirSync(master.backupDir).filter((e) => /Z$/.test(e)).sort();
      expect(kept).toHaveLength(2);
      expect(kept).not.toContain(first);
      const [older, newer] = kept.map((b) => readManifest(join(master.backupDir, b)));
      expect(newer!.files.copied).toBe(0); // nothing was uploaded in between
      expect(newer!.files.linked).toBe(newer!.files.blobs);
      const some = Object.values(newer!.files.names)[0]!.sha256;
      const inode = (b: string) => statSync(new StoreLayout(join(master.backupDir, b, "files")).blobPath(some)).ino;
      expect(inode(kept[1]!)).toBe(inode(kept[0]!));
      expect(older!.files.names).toEqual(newer!.files.names);
      // The older backup is whole on its own, though its first's blobs were removed with it.
      expect(walkStore(join(master.backupDir, kept[0]!, "files"))).toEqual(
        Object.fromEntries(Object.entries(older!.files.names).map(([n, v]) => [n, v.sha256])),
      );
      chmodSync(master.backupDir, 0o700);
    },
    120_000,
  );
});
