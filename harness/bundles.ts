// Functions as they are deployed: each one bundled with its libraries by deploy/bundle-function, in a
// directory laid out like the image's /app (functions/<name>.js beside node_modules), so a runtime
// started with FUNCTIONS_DIR=<functionsDir> loads them as a replica does.
import { createHash } from "node:crypto";
import { cpSync, existsSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, requireBinary } from "./binaries.ts";
import { tempDir } from "./runtime-process.ts";

export interface Bundles {
  functionsDir: string;
  path(name: string): string;
  sha256(name: string): string;
}

export const sha256Of = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Bundles every function of `checkout` (a copy of the repository, or the repository) into `appDir`/functions. */
export function bundleFunctions(appDir = tempDir("tarsd-bundles-"), checkout = REPO_ROOT): Bundles {
  const functionsDir = join(appDir, "functions");
  const res = Bun.spawnSync([
    requireBinary("bash"),
    join(checkout, "deploy", "bundle-function"),
    "--out-dir",
    functionsDir,
  ], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  if (res.exitCode !== 0) throw new Error(`deploy/bundle-function failed (${res.exitCode}): ${res.stderr}`);
  if (!existsSync(join(appDir, "node_modules"))) {
    symlinkSync(join(REPO_ROOT, "node_modules"), join(appDir, "node_modules"));
  }
  const path = (name: string) => join(functionsDir, `${name}.js`);
  return { functionsDir, path, sha256: (name) => sha256Of(path(name)) };
}

/** A checkout of what a function is built from (the deploy scripts, functions, runtime, lib), to edit in tests. */
export function copyCheckout(dir = tempDir("tarsd-checkout-")): string {
  for (
    const entry of ["deploy", "functions", "runtime", "sdk", "lib", "package.json", "tsconfig.json", "bunfig.toml"]
  ) {
    // Not sdk/node_modules: bun install's links, which point out of a copy.
    cpSync(join(REPO_ROOT, entry), join(dir, entry), {
      recursive: true,
      filter: (path) => !path.includes("/node_modules"),
    });
  }
  return dir;
}

let repositoryBundles: Bundles | undefined;

/** This repository's functions, bundled once per test process. */
export function repositoryFunctionBundles(): Bundles {
  repositoryBundles ??= bundleFunctions();
  return repositoryBundles;
}
