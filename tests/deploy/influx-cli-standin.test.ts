// The swarm test's stand-in influx CLI (tests/swarm/standins/influxdb/influx) under the real
// deploy/influx-tokens, outside a container: a stand-in `docker` runs it for `docker run --entrypoint
// influx` with the container's environment (only the `-e` variables), and its HTTP goes through a proxy
// in this test to two real InfluxDB 1.8 servers (harness/influxdb.ts) named as in the stack,
// influxdb-containers:8086 and influxdb-vms:8086, so the CLI sees the very INFLUX_HOST the script gives.
// The calls it logs (on each server, where the swarm test reads them, and in its own file) are exactly
// the minting calls; a flag it does not know is refused; ids, not names, name a bucket.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { runCommand } from "../../harness/child-process.ts";
import { type InfluxDb, startInfluxDb } from "../../harness/influxdb.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import { fakeDockerDir } from "./fake-docker.ts";

const STANDIN = join(REPO_ROOT, "tests", "swarm", "standins", "influxdb", "influx");
const IMAGE = "influxdb:2.7";
const NETWORK = "tarsd_monitoring";
const BUCKETS = ["containers", "vms"] as const;
type Bucket = (typeof BUCKETS)[number];

// `docker run --rm --network N --entrypoint influx -e NAME[=value]... IMAGE args`: the stand-in CLI with
// only the container's environment; `docker secret inspect|create`: secrets kept in $FAKE_STATE/secrets.
const FAKE_DOCKER = `#!/usr/bin/env bash
set -euo pipefail
case "$1 \${2:-}" in
  "run --rm")
    shift 2
    env=(PATH=/usr/local/bin:/usr/bin:/bin "http_proxy=$FAKE_HTTP_PROXY" "INFLUX_CLI_LOG=$FAKE_STATE/influx-cli.log")
    network="" entrypoint=""
    while [[ $# -gt 0 ]]; do
      case "$1" in
        --network) network="$2"; shift 2 ;;
        --entrypoint) entrypoint="$2"; shift 2 ;;
        -e)
          if [[ "$2" == *=* ]]; then env+=("$2"); elif [[ -n "\${!2+set}" ]]; then env+=("$2=\${!2}"); fi
          shift 2 ;;
        -*) echo "fake docker: run $1: not expected" >&2; exit 125 ;;
        *) break ;;
      esac
    done
    echo "$network $entrypoint $1" >>"$FAKE_STATE/runs"
    shift
    exec env -i "\${env[@]}" bash "$FAKE_INFLUX" "$@" ;;
  "secret inspect") [[ -e "$FAKE_STATE/secrets/$3" ]] ;;
  "secret create") mkdir -p "$FAKE_STATE/secrets"; cp "$4" "$FAKE_STATE/secrets/$3"; echo "id-$3" ;;
  *) echo "fake docker: not expected: $*" >&2; exit 125 ;;
esac
`;

const influx = {} as Record<Bucket, InfluxDb>;
let proxy: ReturnType<typeof Bun.serve>;
let docker: { dir: string; bin: string; state: string };
const dirs: string[] = [];

beforeAll(async () => {
  for (const bucket of BUCKETS) influx[bucket] = await startInfluxDb({ databases: [bucket] });
  // wget's http_proxy: requests come as absolute URLs, http://influxdb-<bucket>:8086/<path>.
  proxy = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      const server = BUCKETS.find((bucket) => url.host === `influxdb-${bucket}:8086`);
      if (!server) return new Response(`no such host: ${url.host}`, { status: 502 });
      const body = req.method === "GET" ? undefined : await req.arrayBuffer();
      const headers = { "content-type": req.headers.get("content-type") ?? "text/plain" };
      const res = await fetch(`${influx[server].url}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body,
      });
      return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
    },
  });
  docker = fakeDockerDir("tarsd-fake-docker-influx-", FAKE_DOCKER);
  dirs.push(docker.dir);
}, 60_000);

afterAll(async () => {
  proxy?.stop(true);
  for (const bucket of BUCKETS) await influx[bucket]?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}, 30_000);

const sha16 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex").slice(0, 16);
/** The stand-in's id of a bucket (see its header). */
const bucketId = (bucket: string) => sha16(bucket);

function run(cmd: string[], env: Record<string, string>) {
  // Not spawnSync (runCommand is asynchronous): the proxy answers the CLI from this process.
  return runCommand(cmd, {
    cwd: REPO_ROOT,
    env: {
      PATH: `${docker.bin}:${process.env.PATH}`,
      FAKE_STATE: docker.state,
      FAKE_HTTP_PROXY: `http://127.0.0.1:${proxy.port}`,
      FAKE_INFLUX: STANDIN,
      ...env,
    },
  });
}

/** The stand-in CLI as deploy/influx-tokens runs it: a one-off container against influxdb-<bucket>. */
function influxCli(bucket: Bucket, args: string[], env: Record<string, string> = {}) {
  return run([
    "docker",
    "run",
    "--rm",
    "--network",
    NETWORK,
    "--entrypoint",
    "influx",
    "-e",
    "INFLUX_TOKEN",
    "-e",
    `INFLUX_HOST=http://influxdb-${bucket}:8086`,
    "-e",
    "INFLUX_ORG=tarsd",
    IMAGE,
    ...args,
  ], { INFLUX_TOKEN: `admin-${bucket}`, ...env });
}

interface Call {
  host: string;
  org: string;
  token_sha256: string;
  args: string[];
}

/** The calls the stand-in logged on one server, in order (what the swarm test reads). */
async function loggedOn(bucket: Bucket): Promise<Call[]> {
  // No call logged there yet: no database either.
  const databases = await influx[bucket].influxql("", "SHOW DATABASES");
  if (!databases[0]?.values.some(([name]) => name === "influx_cli")) return [];
  const series = await influx[bucket].influxql("influx_cli", 'SELECT "line" FROM "call"');
  return (series[0]?.values ?? []).map(([, line]) => JSON.parse(line as string) as Call);
}

const call = (bucket: Bucket, token: string, args: string[]): Call => ({
  host: `http://influxdb-${bucket}:8086`,
  org: "tarsd",
  token_sha256: sha16(token),
  args,
});
const bucketList = (bucket: Bucket, token: string) =>
  call(bucket, token, ["bucket", "list", "--name", bucket, "--hide-headers"]);
const authCreate = (bucket: Bucket, token: string, action: "write" | "read", who: string) =>
  call(bucket, token, [
    "auth",
    "create",
    "--org",
    "tarsd",
    `--${action}-bucket`,
    bucketId(bucket),
    "--description",
    `${who} (${action} ${bucket} only)`,
    "--json",
  ]);

test("deploy/influx-tokens through the stand-in: exactly its minting calls, logged on each server", async () => {
  const secrets = tempDir("tarsd-influx-tokens-");
  dirs.push(secrets);
  // Admin tokens as stack-deploy writes them (with a newline the script's $(cat) drops).
  for (const bucket of BUCKETS) writeFileSync(join(secrets, `tarsd_influx_${bucket}_token`), `admin-${bucket}\n`);
  const res = await run(["bash", join(REPO_ROOT, "deploy", "influx-tokens")], {
    TARSD_SECRETS_DIR: secrets,
    TARSD_INFLUX_TIMEOUT: "20",
  });
  expect({ code: res.code, err: res.err }).toEqual({ code: 0, err: "" });
  expect(res.out.trim().split("\n").map((line) => line.replace(/_[0-9a-f]{8}\)$/, "_<sha>)"))).toEqual([
    "minted tarsd_influx_containers_write_token for APP 2 remote-write-containers (secret tarsd_influx_containers_write_token_<sha>)",
    "minted tarsd_influx_vms_write_token for APP 3 remote-write-vms (secret tarsd_influx_vms_write_token_<sha>)",
    "minted tarsd_influx_containers_read_token for Grafana (secret tarsd_influx_containers_read_token_<sha>)",
    "minted tarsd_influx_vms_read_token for Grafana (secret tarsd_influx_vms_read_token_<sha>)",
  ]);

  const expected: Record<Bucket, Call[]> = {
    containers: [
      bucketList("containers", "admin-containers"),
      authCreate("containers", "admin-containers", "write", "APP 2 remote-write-containers"),
      bucketList("containers", "admin-containers"),
      authCreate("containers", "admin-containers", "read", "Grafana"),
    ],
    vms: [
      bucketList("vms", "admin-vms"),
      authCreate("vms", "admin-vms", "write", "APP 3 remote-write-vms"),
      bucketList("vms", "admin-vms"),
      authCreate("vms", "admin-vms", "read", "Grafana"),
    ],
  };
  for (const bucket of BUCKETS) {
    expect({ bucket, calls: await loggedOn(bucket) }).toEqual({ bucket, calls: expected[bucket] });
  }
  // The CLI's own log, in the order the script made the calls (each in its own container here).
  const local = readFileSync(join(docker.state, "influx-cli.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(local).toEqual(
    [0, 1].flatMap((
      i,
    ) => [expected.containers[2 * i], expected.containers[2 * i + 1], expected.vms[2 * i], expected.vms[2 * i + 1]]),
  );
  expect(new Set(readFileSync(join(docker.state, "runs"), "utf8").trim().split("\n"))).toEqual(
    new Set([`${NETWORK} influx ${IMAGE}`]),
  );

  // Each minted value is a secret of its own, named as stack-deploy reads it.
  for (const bucket of BUCKETS) {
    for (const action of ["write", "read"]) {
      const name = `tarsd_influx_${bucket}_${action}_token`;
      const token = readFileSync(join(secrets, name), "utf8");
      expect(token).toMatch(/^[0-9a-f]{48}$/);
      const secret = readFileSync(join(secrets, `${name}.secret`), "utf8").trim();
      expect(secret).toBe(`${name}_${new Bun.CryptoHasher("sha256").update(token).digest("hex").slice(0, 8)}`);
      expect(readFileSync(join(docker.state, "secrets", secret), "utf8")).toBe(token);
    }
  }
  expect(readdirSync(join(docker.state, "secrets")).length).toBe(4);

  // Minted once: a second run keeps them and calls nothing.
  const again = await run(["bash", join(REPO_ROOT, "deploy", "influx-tokens")], { TARSD_SECRETS_DIR: secrets });
  expect({ code: again.code, out: again.out, err: again.err }).toEqual({ code: 0, out: "", err: "" });
  for (const bucket of BUCKETS) expect((await loggedOn(bucket)).length).toBe(4);
}, 60_000);

test("a flag the stand-in does not know is refused, and the refused call is logged too", async () => {
  const before = (await loggedOn("vms")).length;
  const id = bucketId("vms");
  const refused: [string[], string][] = [
    [
      ["auth", "create", "--org", "tarsd", "--write-buckets", id, "--json"],
      "auth create: unknown flag: --write-buckets",
    ],
    [["auth", "create", "--org", "tarsd", "--all-access", "--json"], "auth create: unknown flag: --all-access"],
    [["auth", "create", "-o", "tarsd", "--read-bucket", id], "auth create: unknown flag: -o"],
    [["bucket", "list", "--name", "vms", "--hide-headers", "--org", "tarsd"], "bucket list: unknown flag: --org"],
    [["bucket", "list", "-n", "vms"], "bucket list: unknown flag: -n"],
    [["bucket", "list", "--name", "vms", "--token", "admin-vms"], "bucket list: unknown flag: --token"],
    [["ping", "--host", "http://influxdb-vms:8086"], "ping: unknown flag: --host"],
    // What is not a flag problem is refused as well: a name where the id belongs, no permission, no value.
    [["auth", "create", "--org", "tarsd", "--write-bucket", "vms", "--json"], 'auth create: bucket "vms" not found'],
    [["auth", "create", "--org", "tarsd", "--json"], "auth create: at least one permission"],
    [["bucket", "list", "--name"], "flag needs an argument: --name"],
    [["bucket", "delete", "--name", "vms"], "not supported: bucket delete --name vms"],
  ];
  for (const [args, message] of refused) {
    const res = await influxCli("vms", args);
    expect({ args, code: res.code, out: res.out, err: res.err.includes(message) ? message : res.err }).toEqual({
      args,
      code: 1,
      out: "",
      err: message,
    });
  }
  // On the server, all but ping's (the healthcheck's are kept in its container's file only).
  expect((await loggedOn("vms")).slice(before)).toEqual(
    refused.filter(([args]) => args[0] !== "ping").map(([args]) => call("vms", "admin-vms", args)),
  );
  const local = readFileSync(join(docker.state, "influx-cli.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(local.slice(-refused.length)).toEqual(refused.map(([args]) => call("vms", "admin-vms", args)));

  // Without the org: refused (InfluxDB 2 wants one).
  const noOrg = await run([
    "docker",
    "run",
    "--rm",
    "--network",
    NETWORK,
    "--entrypoint",
    "influx",
    "-e",
    "INFLUX_HOST=http://influxdb-vms:8086",
    IMAGE,
    "auth",
    "create",
    "--read-bucket",
    id,
  ], {});
  expect(noOrg.code).toBe(1);
  expect(noOrg.err).toContain("must specify org");
});

test("what it knows: --flag=value, headers unless --hide-headers, JSON only with --json, arguments logged verbatim", async () => {
  const id = bucketId("containers");
  const listed = await influxCli("containers", ["bucket", "list", "--name=containers"]);
  expect(listed).toEqual({ code: 0, out: `ID\tName\n${id}\tcontainers\n`, err: "" });
  const missing = await influxCli("containers", ["bucket", "list", "--name", "vms", "--hide-headers"]);
  expect(missing).toEqual({ code: 0, out: "", err: "" }); // this server has no bucket vms

  const description = 'quotes " and \\ backslash, tab\there';
  const createArgs = [
    "auth",
    "create",
    "--org=tarsd",
    "--read-bucket",
    id,
    "--write-bucket",
    id,
    "--description",
    description,
    "--json",
  ];
  const json = await influxCli("containers", createArgs);
  expect(json.code).toBe(0);
  const answer = JSON.parse(json.out);
  expect(answer.token).toMatch(/^[0-9a-f]{48}$/);
  expect(answer.description).toBe(description);
  expect(answer.permissions).toEqual([
    `read:orgs/${sha16("org:tarsd")}/buckets/${id}`,
    `write:orgs/${sha16("org:tarsd")}/buckets/${id}`,
  ]);
  const table = await influxCli("containers", ["auth", "create", "--org", "tarsd", "--read-bucket", id]);
  expect(table.code).toBe(0);
  expect(table.out).toStartWith("ID\tDescription\tToken\tPermissions\n");
  expect(table.out).not.toContain('"token"');
  expect((await loggedOn("containers")).at(-2)?.args).toEqual(createArgs);

  // ping (the healthcheck): no flags, logged in its own container only, not on the server.
  const calls = (await loggedOn("containers")).length;
  expect(await influxCli("containers", ["ping"])).toEqual({ code: 0, out: "OK\n", err: "" });
  expect((await loggedOn("containers")).length).toBe(calls);
  const local = readFileSync(join(docker.state, "influx-cli.log"), "utf8").trim().split("\n");
  expect(JSON.parse(local.at(-1)!)).toEqual(call("containers", "admin-containers", ["ping"]));
});
