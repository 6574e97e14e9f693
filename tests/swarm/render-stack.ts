// deploy/stack.yml as `docker stack config` renders it, with the variables deploy/stack-deploy sets:
// the function bundles and their content ids (the first 12 hex digits of each bundle's sha256), the
// image, the root.
import { join } from "node:path";
import { REPO_ROOT, requireBinary } from "../../harness/binaries.ts";
import { repositoryFunctionBundles } from "../../harness/bundles.ts";

export const STACK_FILE = join(REPO_ROOT, "deploy", "stack.yml");

export const functionConfigId = (name: string) => repositoryFunctionBundles().sha256(name).slice(0, 12);

export function stackEnv(env: Record<string, string> = {}): Record<string, string> {
  return {
    TARSD_BUNDLES_DIR: repositoryFunctionBundles().functionsDir,
    FN_UPLOAD_ID: functionConfigId("upload"),
    FN_DOWNLOAD_ID: functionConfigId("download"),
    FN_REMOTE_WRITE_ID: functionConfigId("remote-write"),
    TARSD_IMAGE: "tarsd.local/runtime:0123456789ab",
    TARSD_ROOT: "/vagrant",
    ...env,
  };
}

/** `docker stack config` of deploy/stack.yml, parsed; throws with docker's message when it refuses. */
// a compose file is free-form
// deno-lint-ignore no-explicit-any
export function renderStack(env: Record<string, string> = {}): any {
  const res = Bun.spawnSync([requireBinary("docker"), "stack", "config", "-c", STACK_FILE], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...stackEnv(env) },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  if (res.exitCode !== 0 || res.stderr.length > 0) {
    throw new Error(`docker stack config failed (${res.exitCode}): ${res.stderr}`);
  }
  return Bun.YAML.parse(res.stdout.toString());
}
