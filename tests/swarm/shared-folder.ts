// The repository as the VMs see it: VirtualBox mounts the shared folder /vagrant with every file 0640
// and every directory 0750, so nothing is executable there and nothing is readable by others. The deploy
// scripts must run one another through `bash`, and the image must not keep the checkout's modes (its
// user, bun, would read nothing). Tests run the scripts from such a copy.
import { chmodSync, cpSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";

/** What deploy/build-image and deploy/stack-deploy read: the image's build context and deploy/ itself. */
export const DEPLOY_TREE = [
  "package.json",
  "bun.lock",
  "bunfig.toml",
  "tsconfig.json",
  "runtime",
  "sdk",
  "lib",
  "functions",
  "web",
  "deploy",
];

export const SHARED_FILE_MODE = 0o640;
export const SHARED_DIR_MODE = 0o750;

/** Gives every file under `dir` mode 0640 and every directory 0750 (`dir` too); returns `dir`. */
export function asSharedFolder(dir: string): string {
  const walk = (path: string) => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path)) walk(join(path, entry));
      chmodSync(path, SHARED_DIR_MODE);
    } else {
      chmodSync(path, SHARED_FILE_MODE);
    }
  };
  walk(dir);
  return dir;
}

/** Copies `entries` of this repository into `dest` with the shared folder's modes; returns `dest`. */
export function copyAsSharedFolder(dest: string, entries: string[] = DEPLOY_TREE): string {
  const notInstalled = (path: string) => !path.split("/").includes("node_modules"); // sdk/node_modules: bun install's
  for (const entry of entries) {
    cpSync(join(REPO_ROOT, entry), join(dest, entry), { recursive: true, filter: notInstalled });
  }
  return asSharedFolder(dest);
}
