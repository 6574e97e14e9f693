// Finds the function files to run, imports them and checks they keep the contract.
// A function is either its source (functions/<name>.ts, as in the repository) or its bundle
// (<name>.js, built by deploy/bundle-function: what the image and the stack's docker configs hold);
// when both are there the bundle is what was deployed, so it wins. The sha256 of the loaded file's
// bytes is exported as a metric so a rolling redeploy can be watched.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FunctionModule } from "@tarsd/sdk";

export interface LoadedFunction {
  name: string;
  file: string;
  sha256: string;
  module: FunctionModule;
}

const FUNCTION_FILE = /^([a-z0-9][a-z0-9-]*)\.(js|ts)$/;

/** Each function in `dir` and the file it loads from, by name. */
export function functionFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  if (!existsSync(dir)) return files;
  for (const file of readdirSync(dir).sort()) {
    const match = FUNCTION_FILE.exec(file);
    if (!match) continue;
    const [, name, extension] = match as unknown as [string, string, string];
    if (extension === "js" || !files.has(name)) files.set(name, join(dir, file));
  }
  return files;
}

export async function loadFunctions(dir: string, wanted: string[]): Promise<LoadedFunction[]> {
  const files = functionFiles(dir);
  const available = [...files.keys()].sort();
  const names = wanted.length > 0 ? wanted : available;
  const unknown = names.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown function(s) ${unknown.map((n) => JSON.stringify(n)).join(", ")} in FUNCTIONS; ` +
        `available in ${dir}: ${available.join(", ") || "(none)"}`,
    );
  }
  const loaded: LoadedFunction[] = [];
  for (const name of names) {
    const file = files.get(name)!;
    const sha256 = createHash("sha256").update(readFileSync(file)).digest("hex");
    const module = (await import(file)).default as FunctionModule | undefined;
    if (
      !module || typeof module.fetch !== "function" || !Array.isArray(module.routes) ||
      !module.routes.every((r) => typeof r.handle === "function")
    ) {
      throw new Error(`${file} must default-export defineFunction({...}) (an object with fetch and routes)`);
    }
    loaded.push({ name, file, sha256, module });
  }
  return loaded;
}
