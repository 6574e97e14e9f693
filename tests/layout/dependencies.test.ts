// The directions the code may depend in, checked on every import of every module:
//   runtime/    the host: its own modules, the SDK, packages. Nothing of a function's domain.
//   sdk/        the contract: its own modules and packages only.
//   lib/        the domains: their own modules, the SDK, packages. Never the host or a function.
//   functions/  the SDK and lib/ only; a function never imports the host or another function.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";

const SDK = "@tarsd/sdk";

function modules(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir)).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(join(REPO_ROOT, path)).isDirectory()) return modules(path);
    return /\.(ts|js)$/.test(entry) && !entry.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every specifier a module imports or re-exports, statically or dynamically. */
export function importsOf(source: string): string[] {
  const found = [
    ...source.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s*"([^"]+)"/gms),
    ...source.matchAll(/^\s*import\s*"([^"]+)"/gm),
    ...source.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
  ];
  return found.map((match) => match[1]!);
}

/** Where an import points: the repository folder it lands in, or the package it names. */
function target(module: string, specifier: string): string {
  if (!specifier.startsWith(".")) return specifier.startsWith("node:") ? "node:" : specifier;
  const path = relative(REPO_ROOT, resolve(REPO_ROOT, dirname(module), specifier));
  return path.split("/")[0]!;
}

const RULES: Record<string, (to: string) => boolean> = {
  runtime: (to) => to === "runtime" || isPackage(to),
  sdk: (to) => to === "sdk" || (isPackage(to) && to !== SDK),
  lib: (to) => to === "lib" || isPackage(to),
  functions: (to) => to === "lib" || isPackage(to),
};

const REPOSITORY_FOLDERS = new Set(readdirSync(REPO_ROOT));
const isPackage = (to: string) => !REPOSITORY_FOLDERS.has(to);

test("the import parser sees every form of import this code base uses", () => {
  const source = [
    'import { a } from "./a.ts";',
    'import type { B } from "../lib/b.ts";',
    'import {\n  c,\n  type D,\n} from "@tarsd/sdk";',
    'export { e } from "./e.ts";',
    'import "./side-effect.ts";',
    'const f = await import("./f.ts");',
  ].join("\n");
  expect(importsOf(source)).toEqual(["./a.ts", "../lib/b.ts", "@tarsd/sdk", "./e.ts", "./side-effect.ts", "./f.ts"]);
});

describe.each(Object.keys(RULES))("%s/", (layer) => {
  test("imports only what its layer may", () => {
    const files = modules(layer);
    expect(files.length).toBeGreaterThan(0);
    const wrong = files.flatMap((module) =>
      importsOf(readFileSync(join(REPO_ROOT, module), "utf8"))
        .filter((specifier) => !RULES[layer]!(target(module, specifier)))
        .map((specifier) => `${module} imports ${specifier}`)
    );
    expect(wrong).toEqual([]);
  });
});

test("the host names no function's domain: nothing it imports speaks of files, tus or remote write", () => {
  const named = modules("runtime").flatMap((module) =>
    importsOf(readFileSync(join(REPO_ROOT, module), "utf8"))
      .filter((specifier) => /files|tus|remote-write|influx/.test(specifier))
      .map((specifier) => `${module} imports ${specifier}`)
  );
  expect(named).toEqual([]);
});

test("functions and lib reach the SDK as the package, never by a path into sdk/", () => {
  const byPath = [...modules("functions"), ...modules("lib"), ...modules("runtime")].flatMap((module) =>
    importsOf(readFileSync(join(REPO_ROOT, module), "utf8"))
      .filter((specifier) => specifier.startsWith(".") && target(module, specifier) === "sdk")
      .map((specifier) => `${module} imports ${specifier}`)
  );
  expect(byPath).toEqual([]);
});
