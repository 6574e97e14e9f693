// What is deployed is what is hashed: deploy/bundle-function makes each function one file with the
// libraries it imports (packages, the SDK among them, stay imports), the same bytes from any checkout, and the runtime
// loads that file, reports its sha256 and serves the historic API from it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import {
  bundleFunctions,
  type Bundles,
  copyCheckout,
  repositoryFunctionBundles,
  sha256Of,
} from "../../harness/bundles.ts";
import { curl } from "../../harness/curl.ts";
// deno-lint-ignore no-sloppy-imports -- plain JS, typed by web/prom.d.ts
import { parseMetrics, select } from "../../web/prom.js";
import { type RuntimeProcess, startRuntime, tempDir } from "../../harness/runtime-process.ts";

const FUNCTIONS = readdirSync(join(REPO_ROOT, "functions")).map((f) => f.replace(/\.ts$/, "")).sort();

let bundles: Bundles;
let rt: RuntimeProcess;
beforeAll(async () => {
  bundles = repositoryFunctionBundles();
  rt = await startRuntime({ FUNCTIONS_DIR: bundles.functionsDir, REMOTE_WRITE_TOKEN: "rw-secret" });
}, 60_000);
afterAll(async () => void (await rt?.stop()));

test("each bundle is one file: its imports are packages (npm's and the SDK) and node built-ins, never a file of the repository", () => {
  expect(readdirSync(bundles.functionsDir).sort()).toEqual(FUNCTIONS.map((f) => `${f}.js`));
  for (const name of FUNCTIONS) {
    const code = readFileSync(bundles.path(name), "utf8");
    const specifiers = [...code.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]!);
    expect(specifiers.length).toBeGreaterThan(0);
    expect({ name, relative: specifiers.filter((s) => s.startsWith(".") || s.startsWith("/")) }).toEqual({
      name,
      relative: [],
    });
    // The SDK stays an import, like an npm package: the host and every function share its one copy.
    expect(specifiers).toContain("@tarsd/sdk");
    expect(code).not.toContain("// sdk/");
    expect(code).toContain(`// functions/${name}.ts`);
  }
  expect(readFileSync(bundles.path("remote-write"), "utf8")).toContain("// lib/remote-write/convert.ts");
  expect(readFileSync(bundles.path("upload"), "utf8")).toContain("// lib/files/file-store.ts");
});

test("the same sources give the same bytes from another checkout; a change in a library changes the bundle", () => {
  const copy = copyCheckout();
  const same = bundleFunctions(join(copy, "app"), copy);
  for (const name of FUNCTIONS) {
    expect({ name, sha256: same.sha256(name) }).toEqual({ name, sha256: bundles.sha256(name) });
  }

  // A fix in a library: a clearer message (comments alone do not reach a bundle).
  const convert = join(copy, "lib", "remote-write", "convert.ts");
  const source = readFileSync(convert, "utf8");
  expect(source).toContain("`duplicate label name ");
  writeFileSync(convert, source.replace("`duplicate label name ", "`repeated label name "));
  const changed = bundleFunctions(join(copy, "app-2"), copy);
  expect(changed.sha256("remote-write")).not.toBe(bundles.sha256("remote-write"));
  expect(changed.sha256("upload")).toBe(bundles.sha256("upload")); // does not import convert.ts
});

test("the runtime loads the bundles and reports each one's file and sha256 in /functions and /metrics", async () => {
  const loaded = (await (await fetch(`${rt.url}/functions`)).json()) as {
    name: string;
    file: string;
    sha256: string;
  }[];
  expect(loaded.map(({ name, file, sha256 }) => ({ name, file, sha256 }))).toEqual(
    FUNCTIONS.map((name) => ({ name, file: `${name}.js`, sha256: bundles.sha256(name) })),
  );
  const metrics = parseMetrics(await (await fetch(`${rt.url}/metrics`)).text());
  for (const name of FUNCTIONS) {
    expect(select(metrics, "tarsd_function_info", { function: name }).map((s) => [s.labels.sha256, s.value])).toEqual([
      [bundles.sha256(name), 1],
    ]);
  }
});

test("a bundle beside its source wins: a deployed config mounted over the image's copy is what runs", async () => {
  const app = tempDir("tarsd-both-");
  const dir = join(app, "functions");
  mkdirSync(dir);
  cpSync(bundles.path("upload"), join(dir, "upload.js"));
  // A source that cannot load here (its imports point nowhere): were it loaded, the start would fail.
  cpSync(join(REPO_ROOT, "functions", "upload.ts"), join(dir, "upload.ts"));
  cpSync(join(bundles.functionsDir, "..", "node_modules"), join(app, "node_modules"), { dereference: false });
  const both = await startRuntime({ FUNCTIONS_DIR: dir });
  try {
    const loaded = (await (await fetch(`${both.url}/functions`)).json()) as { name: string; file: string }[];
    expect(loaded.map(({ name, file }) => ({ name, file }))).toEqual([{ name: "upload", file: "upload.js" }]);
  } finally {
    await both.stop();
  }
}, 60_000);

test("the historic curl API works from the bundles, and remote write's auth (from the contract) answers 401", async () => {
  const dir = tempDir("tarsd-curl-");
  const content = "bundled\n".repeat(1000);
  writeFileSync(join(dir, "notes.txt"), content);
  const up = await curl(["-X", "POST", "-F", "file=@notes.txt", `${rt.url}/upload`], dir);
  expect(up.exitCode).toBe(0);
  const down = await curl(["-f", "-X", "POST", "-F", "name=notes.txt", `${rt.url}/download`, "-o", "back.txt"], dir);
  expect(down.exitCode).toBe(0);
  expect(sha256Of(join(dir, "back.txt"))).toBe(sha256Of(join(dir, "notes.txt")));

  const refused = await fetch(`${rt.url}/api/v1/write`, { method: "POST", body: new Uint8Array(10) });
  expect(refused.status).toBe(401);
  expect((await refused.json()).error).toBeString();
});
