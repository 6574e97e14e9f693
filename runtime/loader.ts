// Finds the function files to run, imports them and checks they keep the contract.
// The sha256 of each file's bytes is exported as a metric so a rolling redeploy can be watched.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FunctionModule } from "./http/define-function.ts";

export interface LoadedFunction {
  name: string;
  file: string;
  sha256: string;
  module: FunctionModule;
}

export function availableFunctions(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith(".ts") && !file.startsWith("."))
    .map((file) => file.slice(0, -3))
    .sort();
}

export async function loadFunctions(dir: string, wanted: string[]): Promise<LoadedFunction[]> {
  const available = availableFunctions(dir);
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
    const file = join(dir, `${name}.ts`);
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
