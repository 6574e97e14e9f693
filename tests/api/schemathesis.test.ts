// Fuzzes the HTTP API from its own /openapi.json with schemathesis (PyPI, pinned in scripts/setup,
// installed in .tools/venv by `bash scripts/setup --test`). Every operation the document lists gets
// coverage, fuzzing (positive and negative) and stateful cases; the checks and their few reasoned
// exceptions are in schemathesis.toml next to this file. A missing schemathesis is a failure. Each
// function runs open (no AUTH_TOKEN), and all of them once more with AUTH_TOKEN set and the token
// sent on every request: the secured operations are fuzzed past their 401.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, SETUP_COMMAND } from "../../harness/binaries.ts";
import { type RuntimeProcess, startRuntime, tempDir } from "../../harness/runtime-process.ts";

const SCHEMATHESIS = join(REPO_ROOT, ".tools", "venv", "bin", "schemathesis");
const CONFIG = join(import.meta.dir, "schemathesis.toml");
const HOOKS = join(import.meta.dir, "schemathesis_hooks.py");
/** Test cases per operation and phase: each run takes ~10 s on 2 cores. */
const MAX_EXAMPLES = 100;
/** Hard bound per run; schemathesis is killed after it. */
const RUN_TIMEOUT_MS = 75_000;

function requireSchemathesis(): string {
  if (!existsSync(SCHEMATHESIS)) {
    throw new Error(`schemathesis is not installed at ${SCHEMATHESIS}: run \`${SETUP_COMMAND}\` first`);
  }
  return SCHEMATHESIS;
}

/** `extraArgs`: more `schemathesis run` options, e.g. `-H 'Authorization: Bearer …'` for every request. */
async function schemathesis(url: string, extraArgs: string[] = []): Promise<{ code: number | null; output: string }> {
  const proc = Bun.spawn(
    [
      requireSchemathesis(),
      "--config-file",
      CONFIG,
      "run",
      `${url}/openapi.json`,
      // One worker: the stateful phase relies on one request finishing before the next on shared state.
      "--workers",
      "1",
      "--max-examples",
      String(MAX_EXAMPLES),
      "--request-timeout",
      "10",
      "--generation-database",
      "none",
      "--no-color",
      ...extraArgs,
    ],
    {
      cwd: tempDir("tarsd-schemathesis-"), // Keeps its .schemathesis/ cache out of the repository.
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        SCHEMATHESIS_HOOKS: HOOKS,
        PYTHONDONTWRITEBYTECODE: "1",
      },
      stdout: "pipe",
      stderr: "pipe",
      timeout: RUN_TIMEOUT_MS,
      killSignal: "SIGKILL",
    },
  );
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  const timedOut = proc.signalCode !== null ? `\n(killed by ${proc.signalCode} after ${RUN_TIMEOUT_MS} ms)` : "";
  return { code, output: stdout + stderr + timedOut };
}

function expectClean(run: { code: number | null; output: string }) {
  if (run.code !== 0) console.error(run.output);
  expect(run.code).toBe(0);
  expect(run.output).toContain("Loaded specification");
}

interface OpenApi {
  paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
}

/** `METHOD /path/{param}` of every operation the document marks as secured (bearerAuth). */
function securedOperations(doc: OpenApi): string[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => (op.security ?? []).some((requirement) => "bearerAuth" in requirement))
      .map(([method]) => `${method.toUpperCase()} ${path}`)
  ).sort();
}

/** The statuses the runtime logged per operation (its request log names the route, `:param` style). */
function statusesByOperation(rt: RuntimeProcess): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  for (const line of rt.logLines()) {
    if (typeof line.route !== "string" || typeof line.status !== "number") continue;
    const key = `${line.method} ${line.route.replace(/:(\w+)/g, "{$1}")}`;
    seen.set(key, [...(seen.get(key) ?? []), line.status]);
  }
  return seen;
}

const runtimes: RuntimeProcess[] = [];
afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.stop()));
});

describe("schemathesis against /openapi.json", () => {
  test("binary present (else `bash scripts/setup --test`)", () => {
    expect(existsSync(requireSchemathesis())).toBe(true);
  });

  test("upload + download: no server errors, responses as documented", async () => {
    requireSchemathesis();
    const rt = await startRuntime({ FUNCTIONS: "upload,download", MAX_UPLOAD_BYTES: "1048576" });
    runtimes.push(rt);
    expectClean(await schemathesis(rt.url));
  }, 90_000);

  test("remote-write (file sink): no server errors, responses as documented", async () => {
    requireSchemathesis();
    const rt = await startRuntime({ FUNCTIONS: "remote-write" });
    runtimes.push(rt);
    const doc = (await (await fetch(`${rt.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain("/api/v1/write");
    expectClean(await schemathesis(rt.url));
  }, 90_000);

  test("every function with AUTH_TOKEN, the token sent: the secured operations fuzzed past their 401", async () => {
    requireSchemathesis();
    const token = "schemathesis-token";
    const rt = await startRuntime({
      FUNCTIONS: "upload,download,remote-write",
      MAX_UPLOAD_BYTES: "1048576",
      AUTH_TOKEN: token,
    });
    runtimes.push(rt);
    const doc = (await (await fetch(`${rt.url}/openapi.json`)).json()) as OpenApi;
    const secured = securedOperations(doc);
    expect(secured).toEqual(expect.arrayContaining(["POST /api/v1/write", "PUT /files/{name}", "POST /uploads"]));
    // The token is really required: a write without it is refused.
    expect((await fetch(`${rt.url}/files/no-token.txt`, { method: "PUT", body: "x" })).status).toBe(401);
    expectClean(await schemathesis(rt.url, ["-H", `Authorization: Bearer ${token}`]));
    // Every secured operation got answers other than 401 (its handler ran), and the token let
    // writes through: files were stored.
    const statuses = statusesByOperation(rt);
    const passed = secured.map((op) => ({ op, pastAuth: (statuses.get(op) ?? []).some((status) => status !== 401) }));
    expect(passed).toEqual(secured.map((op) => ({ op, pastAuth: true })));
    expect((statuses.get("PUT /files/{name}") ?? []).some((status) => status === 200 || status === 201)).toBe(true);
  }, 90_000);
});
