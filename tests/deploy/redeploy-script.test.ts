// deploy/redeploy against a stand-in `docker` (a script on PATH that keeps services' env, image and
// configs in files and logs every call): which services it updates, with which flags, that it only
// removes a config that is attached, and that a second run changes nothing. Also the container
// health check (deploy/healthcheck.ts) against the real runtime: healthy when ready, not when draining.
import { expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, requireBinary } from "../../harness/binaries.ts";
import { repositoryFunctionBundles, sha256Of } from "../../harness/bundles.ts";
import { startRuntime, tempDir } from "../../harness/runtime-process.ts";
import { waitForHttp } from "../../harness/ports.ts";
import { copyAsSharedFolder } from "../swarm/shared-folder.ts";
import { fakeDockerDir } from "./fake-docker.ts";

const FAKE_DOCKER = `#!/usr/bin/env bash
# Minimal docker stand-in for deploy/redeploy. State: $FAKE_STATE/<service>.{env,image,configs}.
set -euo pipefail
S="$FAKE_STATE"
echo "docker $*" >>"$S/calls.log"
case "$1 $2" in
  "config inspect") [[ -e "$S/config-$3" ]] ;;
  "config create") name="\${@: -2:1}"; touch "$S/config-$name"; echo "id-$name" ;;
  "service ls") for f in "$S"/*.image; do basename "$f" .image; done ;;
  "service inspect")
    fmt="$4"; svc="$5"
    if [[ "$fmt" == *Env* ]]; then cat "$S/$svc.env"
    elif [[ "$fmt" == *Configs* ]]; then cat "$S/$svc.configs"
    elif [[ "$fmt" == *UpdateStatus* ]]; then echo completed
    elif [[ "$fmt" == *Command* ]]; then cat "$S/$svc.command" 2>/dev/null || true
    else cat "$S/$svc.image"; fi ;;
  "service update")
    svc="\${@: -1}"; args=("$@")
    for ((i = 0; i < \${#args[@]}; i++)); do
      if [[ "\${args[$i]}" == --config-rm ]]; then grep -v "^\${args[$((i + 1))]} " "$S/$svc.configs" >"$S/tmp" || true; mv "$S/tmp" "$S/$svc.configs"; fi
      if [[ "\${args[$i]}" == --config-add ]]; then
        spec="\${args[$((i + 1))]}"; src="\${spec#source=}"; src="\${src%%,*}"; tgt="\${spec#*target=}"; tgt="\${tgt%%,*}"
        echo "$src $tgt" >>"$S/$svc.configs"
      fi
    done ;;
  *) echo "fake docker: unsupported: $*" >&2; exit 3 ;;
esac
`;

/** A stand-in docker and its state; deploy/redeploy is run from `root` (this repository, or a copy). */
function setup(root = REPO_ROOT) {
  const { dir, bin, state } = fakeDockerDir("tarsd-redeploy-", FAKE_DOCKER);
  const artifacts = join(dir, "artifacts");
  const service = (name: string, env: string[], image: string, configs: string[]) => {
    writeFileSync(join(state, `${name}.env`), env.map((e) => `${e}\n`).join(""));
    writeFileSync(join(state, `${name}.image`), `${image}\n`);
    writeFileSync(join(state, `${name}.configs`), configs.map((c) => `${c}\n`).join(""));
  };
  const redeploy = (...args: string[]) => {
    const res = Bun.spawnSync(["bash", join(root, "deploy", "redeploy"), ...args], {
      env: { PATH: `${bin}:${process.env.PATH ?? ""}`, FAKE_STATE: state, HOME: dir, TARSD_ARTIFACTS: artifacts },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    return { code: res.exitCode, out: res.stdout.toString() + res.stderr.toString() };
  };
  const calls = () => (existsSync(join(state, "calls.log")) ? readFileSync(join(state, "calls.log"), "utf8") : "");
  const configs = (name: string) =>
    readFileSync(join(state, `${name}.configs`), "utf8").trim().split("\n").filter(Boolean);
  return { dir, state, artifacts, service, redeploy, calls, configs };
}

test(
  "deploy/redeploy swaps the function's config on exactly the services that run it, start-first with rollback",
  () => {
    requireBinary("bash");
    const t = setup();
    try {
      // What is deployed is the bundle (deploy/bundle-function), and its sha256 names the config.
      const sha = repositoryFunctionBundles().sha256("upload");
      const config = `tarsd_fn_upload_${sha.slice(0, 12)}`;
      // Mounted at the source's path, as stacks deployed before functions were bundled have it.
      const old = "tarsd_fn_upload_000000000000";
      t.service("tarsd_files", ["PORT=5001", "FUNCTIONS=upload,download"], "tarsd.local/runtime:abc", [
        `${old} /app/functions/upload.ts`,
        "tarsd_fn_download_111111111111 /app/functions/download.js",
      ]);
      // Runs every function baked into the image (no FUNCTIONS, no config yet): gets the config added, nothing removed.
      t.service("tarsd_all", ["PORT=5001"], "tarsd.local/runtime:abc", []);
      t.service("tarsd_remote-write-vms", ["FUNCTIONS=remote-write"], "tarsd.local/runtime:abc", [
        "tarsd_fn_remote-write_222222222222 /app/functions/remote-write.js",
      ]);
      t.service("tarsd_prometheus", [], "prom/prometheus:v2.55.1", []);
      // The runtime image running another command (the read-only Docker API proxy): not a function service.
      t.service("tarsd_docker-api", ["PORT=2375"], "tarsd.local/runtime:abc", []);
      writeFileSync(join(t.state, "tarsd_docker-api.command"), "bun/app/deploy/docker-api-proxy.ts\n");

      const first = t.redeploy("upload");
      expect(first.out).toContain(`done: 2 of 2 service(s) updated to upload@${sha.slice(0, 12)}`);
      expect(first.code).toBe(0);
      expect(sha256Of(join(t.artifacts, "functions", "upload.js"))).toBe(sha);
      const updates = t.calls().split("\n").filter((l) => l.startsWith("docker service update"));
      expect(updates.length).toBe(2);
      for (const u of updates) {
        expect(u).toContain("--update-order start-first");
        expect(u).toContain("--update-failure-action rollback");
        expect(u).toContain(`--config-add source=${config},target=/app/functions/upload.js`);
      }
      expect(updates.find((u) => u.endsWith(" tarsd_files"))).toContain(`--config-rm ${old}`);
      expect(updates.find((u) => u.endsWith(" tarsd_all"))).not.toContain("--config-rm");
      expect(t.calls()).toContain(
        `docker config create --label com.docker.stack.namespace=tarsd --label tarsd.function=upload --label tarsd.sha256=${sha} ${config}`,
      );
      expect(t.configs("tarsd_files").sort()).toEqual(
        [`${config} /app/functions/upload.js`, "tarsd_fn_download_111111111111 /app/functions/download.js"].sort(),
      );
      expect(t.configs("tarsd_remote-write-vms")).toEqual([
        "tarsd_fn_remote-write_222222222222 /app/functions/remote-write.js",
      ]);

      // Again: nothing to do, no update, no new config.
      writeFileSync(join(t.state, "calls.log"), "");
      const second = t.redeploy("upload");
      expect(second.code).toBe(0);
      expect(second.out).toContain("done: 0 of 2 service(s) updated");
      expect(t.calls()).not.toContain("service update");
      expect(t.calls()).not.toContain("config create");

      // Unknown function, and a function no service runs.
      expect(t.redeploy("nope").code).toBe(2);
      t.service("tarsd_files", ["FUNCTIONS=upload"], "tarsd.local/runtime:abc", []);
      rmSync(join(t.state, "tarsd_all.image"));
      rmSync(join(t.state, "tarsd_remote-write-vms.image"));
      rmSync(join(t.state, "tarsd_docker-api.image"));
      const none = t.redeploy("download");
      expect(none.code).toBe(1);
      expect(none.out).toContain("no service of stack tarsd runs function download");
      // It says how to add the function to the stack, and leaves no config behind.
      expect(none.out).toContain("docs/adding-a-function.md");
      expect(none.out).toContain("name: tarsd_fn_download_${FN_DOWNLOAD_ID:?");
      expect(none.out).toContain("target: /app/functions/download.js");
      expect(t.calls()).not.toMatch(/config create .*tarsd_fn_download_/);
    } finally {
      rmSync(t.dir, { recursive: true, force: true });
    }
  },
  60_000,
);

test(
  "deploy/redeploy runs from a shared folder where no file is executable (every file 0640, as in the VMs' /vagrant)",
  () => {
    const root = copyAsSharedFolder(tempDir("tarsd-shared-"));
    const t = setup(root);
    try {
      const sha = repositoryFunctionBundles().sha256("upload");
      t.service("tarsd_files", ["FUNCTIONS=upload,download"], "tarsd.local/runtime:abc", [
        "tarsd_fn_upload_000000000000 /app/functions/upload.js",
      ]);
      const res = t.redeploy("upload");
      expect(res.out).toContain(`done: 1 of 1 service(s) updated to upload@${sha.slice(0, 12)}`);
      expect(res.code).toBe(0);
      expect(sha256Of(join(t.artifacts, "functions", "upload.js"))).toBe(sha);
    } finally {
      rmSync(t.dir, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
    }
  },
  60_000,
);

test("deploy/healthcheck.ts: healthy while ready, unhealthy while draining and when nothing listens", async () => {
  const check = (port: number) =>
    Bun.spawnSync(["bun", join(REPO_ROOT, "deploy", "healthcheck.ts")], {
      env: { PATH: process.env.PATH ?? "", PORT: String(port) },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 20_000,
    }).exitCode;
  const rt = await startRuntime({ FUNCTIONS: "upload,download", DRAIN_DELAY_MS: "4000", LOG_REQUESTS: "0" });
  try {
    expect(check(rt.port)).toBe(0);
    rt.proc.kill("SIGTERM");
    await waitForHttp(`${rt.url}/readyz`, { status: 503 });
    expect(check(rt.port)).toBe(1);
    expect(await rt.proc.exited).toBe(0);
    expect(check(rt.port)).toBe(1);
  } finally {
    await rt.stop("SIGKILL");
  }
}, 60_000);
