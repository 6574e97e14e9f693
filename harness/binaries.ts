// Tests run real peers (curl, nginx, Prometheus, VictoriaMetrics, Deno, Chromium). A missing one is
// a failure that names the set-up command, never a skip: CI installs everything.
import { existsSync } from "node:fs";
import { join } from "node:path";

export const SETUP_COMMAND = "bash scripts/setup --test";

const ROOT = join(import.meta.dir, "..");

/** Binaries an npm package ships whole, beside the shim node_modules/.bin links to. */
const NPM_SHIPPED_BINARIES: Record<string, string> = { deno: join(ROOT, "node_modules", "deno", "deno") };

/** Absolute path of a binary from PATH, /usr/sbin, /usr/bin or node_modules/.bin; throws naming the set-up command. */
export function requireBinary(name: string): string {
  // npm's `deno` package puts a Node shim in node_modules/.bin that runs the real binary as its child:
  // a signal to the shim ends the shim only, and the server it started lives on. Use the binary itself.
  const shipped = NPM_SHIPPED_BINARIES[name];
  if (shipped !== undefined && existsSync(shipped)) return shipped;
  const found = Bun.which(name, {
    PATH: `${process.env.PATH ?? ""}:/usr/sbin:/usr/bin:/sbin:${join(ROOT, "node_modules", ".bin")}`,
  }) ??
    [`/usr/bin/${name}`, `/usr/sbin/${name}`].find((p) => existsSync(p));
  if (!found) throw new Error(`required binary '${name}' is not installed: run \`${SETUP_COMMAND}\` first`);
  return found;
}

export const REPO_ROOT = ROOT;

/** Where `bash scripts/setup --test` puts what it builds from the Go module proxy (influxd, prometheus3, cadvisor). */
export const TOOLS_BIN = join(ROOT, ".tools", "bin");

/** Absolute path of a binary the set-up command builds into .tools/bin; throws naming the set-up command. */
export function requireToolsBinary(name: string): string {
  const path = join(TOOLS_BIN, name);
  if (!existsSync(path)) {
    throw new Error(`required binary '${name}' is not built at ${path}: run \`${SETUP_COMMAND}\` first`);
  }
  return path;
}
