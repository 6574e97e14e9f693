// The swarm's rolling function redeploy, emulated on this machine: 3 runtime processes behind nginx
// (standing in for the routing mesh), a client loop uploading and downloading through it, and one
// function file changed. Each replica is replaced start-first, as `deploy/redeploy` makes swarm do:
// start the new process on the new file, wait until /readyz says ready, put it into the upstream and
// take the old one out (nginx reload), then SIGTERM the old one (it drains, finishes in-flight
// requests and exits). Zero failed requests, each sent once (nginx does not retry), and /metrics shows
// the new sha256.
import { expect, test } from "bun:test";
import { appendFileSync, chmodSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireBinary } from "../../harness/binaries.ts";
import { bundleFunctions, sha256Of } from "../../harness/bundles.ts";
import { type Child, spawnChild } from "../../harness/child-process.ts";
import { freePort } from "../../harness/ports.ts";
// deno-lint-ignore no-sloppy-imports -- plain JS, typed by web/prom.d.ts
import { parseMetrics, select } from "../../web/prom.js";
import { type RuntimeProcess, startRuntime, tempDir } from "../../harness/runtime-process.ts";

function nginxConfig(dir: string, port: number, upstreams: number[]): string {
  const servers = upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join("\n");
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  client_max_body_size 16m;
  # One connection per request, as the curl users do. With client keep-alive, \`nginx -s reload\`
  # (this emulation's way to change the upstream set) closes idle client connections as the old
  # worker exits, and a request racing that close is reset by nginx itself: an artefact of the
  # stand-in, not of the replicas being replaced (the routing mesh has no such reload).
  keepalive_timeout 0;
  upstream functions {
${servers}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://functions;
      proxy_http_version 1.1;
      # No retries: every request is sent once, so a replica that refused or failed one during the
      # rollout shows as a failure here instead of being hidden by a second try elsewhere.
      proxy_next_upstream off;
      proxy_connect_timeout 2s;
      proxy_read_timeout 30s;
    }
  }
}
`;
}

function metricShas(text: string, fn: string): string[] {
  return select(parseMetrics(text), "tarsd_function_info", { function: fn }).filter((s) => s.value === 1).map((s) =>
    s.labels.sha256 ?? ""
  );
}

test(
  "rolling start-first redeploy of one function behind nginx: zero failed requests, new sha256 in /metrics",
  async () => {
    const nginxBin = requireBinary("nginx");
    const dir = tempDir("tarsd-rolling-");
    chmodSync(dir, 0o755);
    for (const sub of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) {
      mkdirSync(join(dir, "tmp", sub), { recursive: true });
      chmodSync(join(dir, "tmp", sub), 0o777);
    }
    chmodSync(join(dir, "tmp"), 0o777);
    // Two function directories as the image has them (bundles beside /app/node_modules): v1 is what
    // the image holds, v2 what deploy/redeploy mounts over it.
    const app = join(dir, "app");
    const v1 = bundleFunctions(app).functionsDir;
    const v2 = join(app, "functions-v2");
    cpSync(v1, v2, { recursive: true });
    appendFileSync(join(v2, "upload.js"), `\n// redeployed by tests/deploy/rolling-redeploy.test.ts\n`);
    const oldSha = sha256Of(join(v1, "upload.js"));
    const newSha = sha256Of(join(v2, "upload.js"));
    expect(newSha).not.toBe(oldSha);

    const dataDir = join(dir, "data"); // the NFS share: one directory for every replica
    mkdirSync(dataDir);
    const env = (functionsDir: string) => ({
      FUNCTIONS: "upload,download",
      FUNCTIONS_DIR: functionsDir,
      DATA_DIR: dataDir,
      DRAIN_DELAY_MS: "500",
      SHUTDOWN_GRACE_MS: "5000",
      LOG_REQUESTS: "0",
    });

    let replicas: RuntimeProcess[] = [];
    let nginx: Child | undefined;
    const started: RuntimeProcess[] = [];
    try {
      for (let i = 0; i < 3; i++) started.push(await startRuntime(env(v1)));
      replicas = [...started];
      const port = await freePort(); // nginx cannot bind port 0
      const conf = join(dir, "nginx.conf");
      writeFileSync(conf, nginxConfig(dir, port, replicas.map((r) => r.port)));
      nginx = await spawnChild("nginx", [nginxBin, "-p", dir, "-e", join(dir, "error.log"), "-c", conf], "/readyz", {
        port,
      });
      const lb = nginx.url;
      for (const r of replicas) {
        expect(metricShas(await (await fetch(`${r.url}/metrics`)).text(), "upload")).toEqual([
          oldSha,
        ]);
      }

      const master = nginx.proc.pid;
      const workers = () =>
        readFileSync(`/proc/${master}/task/${master}/children`, "utf8").split(/\s+/).filter(Boolean);
      const reload = async () => {
        const before = workers();
        writeFileSync(conf, nginxConfig(dir, port, replicas.map((r) => r.port)));
        const res = Bun.spawnSync([nginxBin, "-p", dir, "-e", join(dir, "error.log"), "-c", conf, "-s", "reload"]);
        expect(res.exitCode).toBe(0);
        // nginx starts new workers on the new upstream set; the old ones finish their requests and exit.
        // Done when none of the old workers is left and a new one runs.
        const deadline = Date.now() + 10_000;
        for (;;) {
          const now = workers();
          if (now.length > 0 && !now.some((pid) => before.includes(pid))) break;
          if (Date.now() > deadline) throw new Error(`nginx reload: old workers ${before} still running (${now})`);
          await Bun.sleep(10);
        }
      };

      // The client loop: uploads and downloads through the "mesh" until the rollout is over.
      let rolling = true;
      const failures: string[] = [];
      let requests = 0;
      const client = async (worker: number) => {
        let n = 0;
        while ((rolling || n < 3) && n < 2000) {
          n += 1;
          const name = `w${worker}-${n}.bin`;
          const body = new Uint8Array(1024 + ((worker * 7919 + n * 104729) % 65536)).map((_, i) =>
            (i * 31 + n + worker) & 0xff
          );
          try {
            const form = new FormData();
            form.append("file", new File([body], name));
            const up = await fetch(`${lb}/upload`, { method: "POST", body: form });
            requests += 1;
            await up.arrayBuffer();
            if (up.status < 200 || up.status >= 300) failures.push(`upload ${name}: ${up.status}`);
            const downForm = new FormData();
            downForm.append("name", name);
            const down = await fetch(`${lb}/download`, { method: "POST", body: downForm });
            requests += 1;
            const got = new Uint8Array(await down.arrayBuffer());
            if (down.status !== 200) failures.push(`download ${name}: ${down.status}`);
            else if (Buffer.compare(Buffer.from(got), Buffer.from(body)) !== 0) {
              failures.push(
                `download ${name}: content differs`,
              );
            }
          } catch (err) {
            failures.push(`${name}: ${String(err)}`);
          }
        }
      };
      const clients = [0, 1, 2, 3].map((w) => client(w));

      // Roll once the clients are under way: one replica at a time, start-first.
      while (requests < 8 && failures.length === 0) await Bun.sleep(10);
      for (let i = 0; i < 3; i++) {
        const old = replicas[i]!;
        const fresh = await startRuntime(env(v2)); // returns once /readyz answers 200
        started.push(fresh);
        replicas = replicas.map((r) => (r === old ? fresh : r));
        await reload();
        expect(await old.stop("SIGTERM")).toBe(0);
      }
      rolling = false;
      await Promise.all(clients);

      expect(failures).toEqual([]);
      expect(requests).toBeGreaterThan(20);
      for (const r of replicas) {
        expect(metricShas(await (await fetch(`${r.url}/metrics`)).text(), "upload")).toEqual([
          newSha,
        ]);
      }
      // download was not redeployed: same file, same sha256 everywhere.
      const downloadSha = sha256Of(join(v1, "download.js"));
      for (const r of replicas) {
        expect(metricShas(await (await fetch(`${r.url}/metrics`)).text(), "download")).toEqual(
          [downloadSha],
        );
      }
      console.log(`rolling redeploy: ${requests} requests through nginx during the rollout, ${failures.length} failed`);
    } finally {
      await nginx?.stop();
      await Promise.all(started.map((r) => r.stop("SIGKILL")));
      rmSync(dir, { recursive: true, force: true });
    }
  },
  110_000,
);
