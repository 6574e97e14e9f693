// Every script (scripts/*, .ci/*, deploy/**: each file that starts with "#!") answers --help with its
// usage on stdout and exit 0, and does nothing else: run with a PATH whose docker, sudo, apt-get, bun,
// systemctl... are stand-ins that record any call and fail, from an empty directory, it calls none of
// them, creates no file (there, in the repository's .artifacts and data, or at the top of .tools), starts no server
// and returns at once.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { tempDir } from "../../harness/runtime-process.ts";

/** Commands with a side effect a script could reach: each stand-in records its call and fails loudly. */
const GUARDED = [
  "apt-get",
  "bun",
  "cargo",
  "containerd",
  "curl",
  "debootstrap",
  "docker",
  "dockerd",
  "go",
  "invoke-rc.d",
  "ip",
  "iptables",
  "mount",
  "node",
  "npm",
  "pkill",
  "service",
  "sudo",
  "systemctl",
  "vagrant",
  "virsh",
  "wget",
];

function scripts(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(REPO_ROOT, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && readFileSync(join(REPO_ROOT, path), "utf8").startsWith("#!")) found.push(path);
    }
  };
  for (const dir of ["scripts", ".ci", "deploy"]) walk(dir);
  return found.sort();
}

/** Every path under `dir` with its size and modification time (missing: empty). */
/** What a directory holds, with sizes and times; .ci/run's own test log (written as the suite runs) left out. */
function snapshot(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).map(String).filter((path) => path !== "test.log").sort().map((path) => {
    const st = statSync(join(dir, path), { throwIfNoEntry: false });
    return `${path} ${st?.size} ${st?.mtimeMs}`;
  });
}

const sandbox = tempDir("tarsd-help-");
const bin = join(sandbox, "bin");
const calls = join(sandbox, "calls");
mkdirSync(bin);
for (const name of GUARDED) {
  writeFileSync(
    join(bin, name),
    `#!/bin/sh\necho "${name} $*" >>${JSON.stringify(calls)}\necho "help test: ${name} must not run" >&2\nexit 97\n`,
  );
  chmodSync(join(bin, name), 0o755);
}
afterAll(() => rmSync(sandbox, { recursive: true, force: true }));

test("the scripts are found: scripts/*, .ci/*, deploy/**", () => {
  const found = scripts();
  for (
    const name of ["scripts/setup", "scripts/start", "scripts/test", "scripts/lint", ".ci/run", ".ci/system-services"]
  ) {
    expect(found).toContain(name);
  }
  for (const name of ["deploy/build-image", "deploy/stack-deploy", "deploy/redeploy", "deploy/bundle-function"]) {
    expect(found).toContain(name);
  }
  expect(found).toContain("deploy/vagrant/build-box");
});

for (const script of scripts()) {
  test(`${script} --help: usage on stdout, exit 0, no side effect`, () => {
    const cwd = join(sandbox, `cwd-${basename(script)}`);
    const home = join(sandbox, `home-${basename(script)}`);
    mkdirSync(cwd);
    mkdirSync(home);
    const watched = [".artifacts", "data"].map((dir) => join(REPO_ROOT, dir));
    const before = watched.map((dir) => snapshot(dir));
    const tools = () => (existsSync(join(REPO_ROOT, ".tools")) ? readdirSync(join(REPO_ROOT, ".tools")).sort() : []);
    const toolsBefore = tools();
    const res = Bun.spawnSync(["/bin/bash", join(REPO_ROOT, script), "--help"], {
      cwd,
      env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: home, LANG: "C.UTF-8" },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 10_000,
    });
    const out = res.stdout.toString();
    expect({ script, code: res.exitCode, stderr: res.stderr.toString() }).toEqual({ script, code: 0, stderr: "" });
    // The usage names the script (how to call it), and says more than that.
    expect(out).toContain(basename(script));
    expect(out.trim().split("\n").length).toBeGreaterThan(0);
    expect({ script, calls: existsSync(calls) ? readFileSync(calls, "utf8") : "" }).toEqual({ script, calls: "" });
    expect({ script, cwd: readdirSync(cwd), home: readdirSync(home) }).toEqual({ script, cwd: [], home: [] });
    expect(watched.map((dir) => snapshot(dir))).toEqual(before);
    expect(tools()).toEqual(toolsBefore); // (its top level only: it holds the swarm test's Docker data root)
    // No server started: bun, docker and the rest are stand-ins that record any call (checked above), and
    // a script still running after spawnSync's timeout would have been killed (exit code not 0).
  });
}
