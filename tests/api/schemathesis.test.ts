// Fuzzes the HTTP API from its own /openapi.json with schemathesis (PyPI, pinned in scripts/setup,
// installed in .tools/venv by `bash scripts/setup --test`). Every operation the document lists gets
// coverage, fuzzing (positive and negative) and stateful cases; the checks and their few reasoned
// exceptions are in schemathesis.toml next to this file. A missing schemathesis is a failure.
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

async function schemathesis(url: string): Promise<{ code: number | null; output: string }> {
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
});
