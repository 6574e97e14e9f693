// The servers under test: the runtime, Debian's nginx (one worker, and auto), the seed (as shipped, on
// Bottle's single-threaded wsgiref, and on waitress, threaded) and dufs, each on a loopback port, each
// stopped by cleanup if the run ends early.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, requireBinary, SETUP_COMMAND } from "../../harness/binaries.ts";
import { spawnChild } from "../../harness/child-process.ts";
import { freePort } from "../../harness/ports.ts";
import { startRuntime as startRuntimeProcess } from "../../harness/runtime-process.ts";
import { DUFS_LABEL, MiB, SEED_LABEL, SEED_THREADED_LABEL } from "./config.ts";
import { run, stopOnCleanup } from "./processes.ts";

export const NGINX = requireBinary("nginx");
/** dufs, built from crates.io by `bash scripts/setup --test` (cargo install --root .tools/cargo dufs). */
export const DUFS = join(REPO_ROOT, ".tools", "cargo", "bin", "dufs");
/** Debian's python3, where python3-bottle and python3-waitress install, whatever python3 comes first on PATH. */
export const PYTHON = "/usr/bin/python3";

export interface Runtime {
  url: string;
  pid: number;
  dataDir: string;
  filesDir: string;
  stop(): Promise<void>;
}

export interface Seed {
  url: string;
  label: string;
  /** Where it keeps its files. */
  dir: string;
  stop(): Promise<void>;
}

export interface Dufs {
  url: string;
  label: string;
  /** The directory it serves and PUT writes into. */
  dir: string;
  stop(): Promise<void>;
}

export interface Nginx {
  url: string;
  label: string;
  /** Where its DAV PUT (/put/) writes. */
  putDir: string;
  stop(): Promise<void>;
}

/** The servers the wrk rows compare. */
export interface Servers {
  runtime: Runtime;
  /** worker_processes 1, then auto. */
  nginxes: Nginx[];
  /** The seed as shipped (wsgiref, single-threaded), then on waitress (threaded). */
  seeds: Seed[];
  dufs: Dufs;
}

/** The runtime with its data in `dir`/data, both nginx configurations serving its store, the seeds, dufs. */
export async function startServers(dir: string): Promise<Servers> {
  if (!existsSync(DUFS)) {
    throw new Error(`the PUT peer dufs is not installed at ${DUFS}: run \`${SETUP_COMMAND}\` first`);
  }
  const runtime = await startRuntime(join(dir, "data"));
  const nginxes = [await startNginx(dir, runtime.filesDir, "1"), await startNginx(dir, runtime.filesDir, "auto")];
  const seeds = [
    await startSeed(join(dir, "seed-wsgiref"), "wsgiref", SEED_LABEL),
    await startSeed(join(dir, "seed-waitress"), "waitress", SEED_THREADED_LABEL),
  ];
  const dufs = await startDufs(join(dir, "dufs"));
  return { runtime, nginxes, seeds, dufs };
}

/** Stops them all and removes the runtime's data before the RSS half starts runtimes of its own. */
export async function stopServers({ runtime, nginxes, seeds, dufs }: Servers): Promise<void> {
  for (const ngx of nginxes) await ngx.stop();
  for (const seed of seeds) await seed.stop();
  await dufs.stop();
  await runtime.stop();
  rmSync(runtime.dataDir, { recursive: true, force: true });
}

/** The runtime as tests start it (harness/runtime-process.ts), with every function and no request log. */
export async function startRuntime(dataDir: string): Promise<Runtime> {
  const runtime = await startRuntimeProcess({
    DATA_DIR: dataDir,
    LOG_REQUESTS: "0",
    MAX_UPLOAD_BYTES: String(5 * 1024 * MiB),
  });
  const stop = async () => void (await runtime.stop());
  stopOnCleanup(stop);
  return { url: runtime.url, pid: runtime.proc.pid, dataDir, filesDir: join(dataDir, "store", "names"), stop };
}

/** The seed app on a free port under Bottle's `server` adapter, keeping its files in `filesDir`. */
async function startSeed(filesDir: string, server: "wsgiref" | "waitress", label: string): Promise<Seed> {
  const module = server === "waitress" ? "waitress" : "bottle";
  const probe = await run([PYTHON, "-c", `import bottle, ${module}`]).catch(() => ({ code: 1 }));
  if (probe.code !== 0) {
    throw new Error(
      `the seed on ${server} needs Debian's python3-bottle and python3-waitress: run \`${SETUP_COMMAND}\` first`,
    );
  }
  mkdirSync(filesDir, { recursive: true });
  const port = await freePort(); // neither server can report a port it picked
  const seed = await spawnChild(
    label,
    [PYTHON, join(REPO_ROOT, "bench", "seed", "app_server.py"), String(port), filesDir, server],
    "/download",
    { port, readyStatus: 405 },
  );
  const stop = () => seed.stop();
  stopOnCleanup(stop);
  return { url: seed.url, label, dir: filesDir, stop };
}

/** dufs serving `dir`, uploads and overwrites allowed (PUT of an existing name needs --allow-delete), no log. */
async function startDufs(dir: string): Promise<Dufs> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const dufs = await spawnChild(
    DUFS_LABEL,
    [DUFS, "--bind", "127.0.0.1", "--port", String(port), "--allow-upload", "--allow-delete", "--log-format", "", dir],
    "/",
    { port, readyStatus: 200 },
  );
  const stop = () => dufs.stop();
  stopOnCleanup(stop);
  return { url: dufs.url, label: DUFS_LABEL, dir, stop };
}

async function startNginx(dir: string, filesDir: string, workers: "1" | "auto"): Promise<Nginx> {
  const port = await freePort();
  const prefix = join(dir, `nginx-${workers}`);
  const putDir = join(prefix, "put");
  for (const sub of ["", "put", "body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"]) {
    mkdirSync(join(prefix, sub), { recursive: true });
  }
  // Debian's packaged defaults where they matter for speed (sendfile, tcp_nopush, keepalive), no
  // access log (the runtime runs with LOG_REQUESTS=0), every path inside the temp prefix.
  const conf = `
daemon off;
master_process on;
worker_processes ${workers};
${process.getuid?.() === 0 ? "user root;" : ""}
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 1024; }
http {
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  access_log off;
  default_type application/octet-stream;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port};
    location /files/ { alias ${filesDir}/; }
    # The PUT peer: ngx_http_dav_module writes the body to a temp file, then renames it.
    location /put/ {
      alias ${putDir}/;
      dav_methods PUT;
      client_max_body_size 0;
      client_body_buffer_size 128k;
    }
  }
}
`;
  const confPath = join(prefix, "nginx.conf");
  writeFileSync(confPath, conf);
  const test = await run([NGINX, "-p", prefix, "-c", confPath, "-e", join(prefix, "logs", "error.log"), "-t"]);
  if (test.code !== 0) throw new Error(`nginx -t failed:\n${test.stderr}`);
  // nginx cannot bind port 0, so it gets a free port picked here. A directory without autoindex
  // answers 403: it is up. SIGTERM stops the master and it takes its workers down with it.
  const nginx = await spawnChild(
    `nginx (worker_processes ${workers})`,
    [NGINX, "-p", prefix, "-c", confPath, "-e", join(prefix, "logs", "error.log")],
    "/files/",
    { port, readyStatus: 403 },
  );
  const stop = () => nginx.stop();
  stopOnCleanup(stop);
  const url = nginx.url;
  return { url, label: `nginx (worker_processes ${workers})`, putDir, stop };
}
