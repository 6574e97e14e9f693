// deploy/build-image against a stand-in `docker` (a script on PATH that logs every call and keeps the
// build context it is sent): run from a copy laid out as the VMs' shared folder, the context's modes it
// sends, and which builder it picks. The real build from such a copy is in tests/swarm (swarm-fixture.ts).
import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireBinary } from "../../harness/binaries.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import { copyAsSharedFolder } from "../swarm/shared-folder.ts";
import { fakeDockerDir } from "./fake-docker.ts";

const IMAGE_ID = `sha256:${"0123456789abcdef".repeat(4)}`;

const FAKE_DOCKER = `#!/usr/bin/env bash
# Minimal docker stand-in for deploy/build-image. State in $FAKE_STATE.
set -euo pipefail
S="$FAKE_STATE"
echo "DOCKER_BUILDKIT=\${DOCKER_BUILDKIT-unset} docker $*" >>"$S/calls.log"
case "$1" in
  buildx)
    [[ -e "$S/has-buildx" ]] || { echo "docker: 'buildx' is not a docker command." >&2; exit 1; }
    echo "github.com/docker/buildx 0.13.1 stand-in" ;;
  build) cat >"$S/context.tar"; echo "${IMAGE_ID}" ;;
  tag) ;;
  save) echo image >"$3" ;;
  *) echo "fake docker: unsupported: $*" >&2; exit 3 ;;
esac
`;

const root = copyAsSharedFolder(tempDir("tarsd-shared-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function setup() {
  const { dir, bin, state } = fakeDockerDir("tarsd-build-image-", FAKE_DOCKER);
  const build = (env: Record<string, string> = {}) => {
    const res = Bun.spawnSync(["bash", join(root, "deploy", "build-image")], {
      env: {
        PATH: `${bin}:${process.env.PATH ?? ""}`,
        HOME: dir,
        FAKE_STATE: state,
        TARSD_ARTIFACTS: join(dir, "artifacts"),
        ...env,
      },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    return { code: res.exitCode, out: res.stdout.toString() + res.stderr.toString() };
  };
  const calls = () => (existsSync(join(state, "calls.log")) ? readFileSync(join(state, "calls.log"), "utf8") : "");
  return { dir, state, build, calls };
}

test(
  "deploy/build-image runs from a shared folder (every file 0640, every directory 0750) and sends every file as root's 0644, every directory 0755",
  () => {
    const t = setup();
    try {
      const res = t.build();
      expect(res.out).toContain(`built and saved tarsd.local/runtime:${IMAGE_ID.slice(7, 19)}`);
      expect(res.code).toBe(0);
      expect(readFileSync(join(t.dir, "artifacts", "image"), "utf8").trim()).toBe(
        `tarsd.local/runtime:${IMAGE_ID.slice(7, 19)}`,
      );
      const listing = Bun.spawnSync([requireBinary("tar"), "--numeric-owner", "-tvf", join(t.state, "context.tar")], {
        stdout: "pipe",
        stderr: "pipe",
      }).stdout.toString().trim().split("\n");
      const entries = listing.map((line) => {
        const [mode = "", owner = "", , , , path = ""] = line.split(/\s+/);
        return { path, mode, owner };
      });
      expect(entries.map((e) => e.path)).toContain("deploy/bundle-function");
      expect(entries.map((e) => e.path)).toContain("runtime/main.ts");
      const odd = entries.filter((e) =>
        e.owner !== "0/0" || e.mode !== (e.path.endsWith("/") ? "drwxr-xr-x" : "-rw-r--r--")
      );
      expect(odd).toEqual([]);
    } finally {
      rmSync(t.dir, { recursive: true, force: true });
    }
  },
  60_000,
);

test("deploy/build-image uses BuildKit only when the docker CLI has buildx; an explicit DOCKER_BUILDKIT wins", () => {
  const t = setup();
  try {
    const builder = (env: Record<string, string>, buildx: boolean) => {
      if (buildx) writeFileSync(join(t.state, "has-buildx"), "");
      else rmSync(join(t.state, "has-buildx"), { force: true });
      writeFileSync(join(t.state, "calls.log"), "");
      const res = t.build(env);
      expect({ env, buildx, code: res.code, out: res.out }).toMatchObject({ env, buildx, code: 0 });
      return t.calls().split("\n").find((line) => line.includes(" docker build "))?.split(" ")[0];
    };
    // Debian 12's docker.io 20.10: no docker-buildx package, the classic builder.
    expect(builder({}, false)).toBe("DOCKER_BUILDKIT=0");
    expect(builder({}, true)).toBe("DOCKER_BUILDKIT=1");
    expect(builder({ DOCKER_BUILDKIT: "1" }, false)).toBe("DOCKER_BUILDKIT=1");
    expect(builder({ DOCKER_BUILDKIT: "0" }, true)).toBe("DOCKER_BUILDKIT=0");
  } finally {
    rmSync(t.dir, { recursive: true, force: true });
  }
}, 60_000);
