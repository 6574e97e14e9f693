// .ci/run, CI's entry point, on the output of a real `bun test` of small sample files: its last line
// is bun's totals ("N passed, N failed", then ", N skipped" / ", N todo" only when there are any) and a
// skipped or todo test fails the run as a failed one does. Each case runs the real .ci/run from a
// temporary copy of the repository whose scripts/test runs only that case's samples.
import { expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { tempDir } from "../../harness/runtime-process.ts";

// The sample files' sources, written to a temporary directory: these are data for .ci/run, not tests of
// this suite (the skipped and todo ones are what .ci/run must refuse). `modified` builds the modifier
// calls from their parts, so that no search for skipped tests in tests/ mistakes these samples for one.
const modified = (modifier: "skip" | "todo") => `test.${modifier}`;
const SAMPLES = {
  pass: 'test("adds", () => expect(1 + 1).toBe(2));',
  skip: `${modified("skip")}("not yet", () => expect(1).toBe(2));`,
  todo: `${modified("todo")}("some day");`,
  fail: 'test("breaks", () => expect(1).toBe(2));',
  // A test whose own output looks like bun's totals: not the summary.
  decoy: 'test("prints totals of its own", () => { console.log(" 7 pass\\n 3 skip\\n 2 todo\\n 5 fail"); });',
};

/**
 * .ci/run in a copy of the repository whose scripts/test is `script`; its exit code and output. Its
 * scripts/setup (`setup`) and .ci/system-services are stand-ins that append what they were called with
 * to `calls` (in order, with scripts/test's "test"), so no package is installed and no service started.
 */
function ciRun(
  script: string,
  setup = "exit 0",
  services = "exit 0",
): { code: number; out: string; lines: string[]; log: string; calls: string[] } {
  const root = tempDir("tarsd-ci-run-");
  mkdirSync(join(root, ".ci"));
  mkdirSync(join(root, "scripts"));
  copyFileSync(join(REPO_ROOT, ".ci", "run"), join(root, ".ci", "run"));
  const calls = join(root, "calls");
  const stub = (name: string, body: string) =>
    `#!/usr/bin/env bash\nset -euo pipefail\ncd "$(dirname "$0")/.."\necho "${name} $*" >>${
      JSON.stringify(calls)
    }\n${body}\n`;
  writeFileSync(join(root, "scripts", "test"), stub("test", script));
  writeFileSync(join(root, "scripts", "setup"), stub("setup", setup));
  writeFileSync(join(root, ".ci", "system-services"), stub("system-services", services));
  const res = Bun.spawnSync(["bash", join(root, ".ci", "run")], { cwd: root, stdout: "pipe", stderr: "pipe" });
  const log = readFileSync(join(root, ".artifacts", "test.log"), "utf8");
  const called = readFileSync(calls, "utf8").trimEnd().split("\n");
  rmSync(root, { recursive: true, force: true });
  return {
    code: res.exitCode ?? -1,
    out: res.stdout.toString() + res.stderr.toString(),
    lines: res.stdout.toString().trimEnd().split("\n"),
    log,
    // the state directory's name differs every run
    calls: called.map((line) => line.replace(/ \/\S+$/, " STATE_DIR")),
  };
}

/** .ci/run over a real `bun test` of one file per sample. */
function ciRunOn(...samples: (keyof typeof SAMPLES)[]) {
  const files = samples.map((sample) => `t/${sample}.test.ts`);
  const script = [
    "mkdir -p t",
    ...samples.map((sample) =>
      `cat >t/${sample}.test.ts <<'EOF'\nimport { expect, test } from "bun:test";\n${SAMPLES[sample]}\nEOF`
    ),
    `${JSON.stringify(process.execPath)} test ${files.map((f) => `./${f}`).join(" ")}`,
  ].join("\n");
  return ciRun(script);
}

test("all passing: exit 0, the last line is 'N passed, 0 failed' and no more", () => {
  const run = ciRunOn("pass");
  expect(run.log).toMatch(/^ 1 pass$/m); // bun's own totals, in the log .ci/run keeps
  expect({ code: run.code, last: run.lines.at(-1) }).toEqual({ code: 0, last: "1 passed, 0 failed" });
});

test("a skipped test: exit 1, the last line counts it, the test is named above it", () => {
  const run = ciRunOn("pass", "skip");
  expect({ code: run.code, last: run.lines.at(-1) }).toEqual({ code: 1, last: "1 passed, 0 failed, 1 skipped" });
  expect(run.lines).toContain("  (skip) not yet");
});

test("a todo test: exit 1, the last line counts it", () => {
  const run = ciRunOn("pass", "todo");
  expect({ code: run.code, last: run.lines.at(-1) }).toEqual({ code: 1, last: "1 passed, 0 failed, 1 todo" });
  expect(run.lines).toContain("  (todo) some day");
});

test("a failed test: bun's exit code, the last line counts it", () => {
  const run = ciRunOn("pass", "fail");
  expect({ code: run.code, last: run.lines.at(-1) }).toEqual({ code: 1, last: "1 passed, 1 failed" });
});

test("all of them at once: every count on the last line, in order", () => {
  const run = ciRunOn("pass", "skip", "todo", "fail");
  expect({ code: run.code, last: run.lines.at(-1) }).toEqual({
    code: 1,
    last: "1 passed, 1 failed, 1 skipped, 1 todo",
  });
});

test("totals printed by a test itself are not bun's summary", () => {
  const run = ciRunOn("pass", "decoy");
  expect(run.log).toContain(" 3 skip");
  expect({ code: run.code, last: run.lines.at(-1) }).toEqual({ code: 0, last: "2 passed, 0 failed" });
});

test("scripts/test failing before bun test (set-up, typecheck): its exit code, counted as a failure", () => {
  const run = ciRun('echo "error TS2322: typecheck failed" >&2\nexit 2');
  expect({ code: run.code, last: run.lines.at(-1) }).toEqual({ code: 2, last: "0 passed, 1 failed" });
});

test("Debian's services run on their default ports while the suite runs: started after the set-up, checked after the suite, stopped at the end", () => {
  const run = ciRunOn("pass");
  expect(run.calls).toEqual([
    "setup --test",
    "system-services start STATE_DIR",
    "test ",
    "system-services check STATE_DIR",
    "system-services stop STATE_DIR",
  ]);
  expect({ code: run.code, last: run.lines.at(-1) }).toEqual({ code: 0, last: "1 passed, 0 failed" });
});

test("a failing suite still stops the services", () => {
  const run = ciRunOn("pass", "fail");
  expect(run.calls.at(-1)).toBe("system-services stop STATE_DIR");
  expect(run.code).toBe(1);
});

test("a service the suite broke (it no longer answers after it) fails a passing run", () => {
  const run = ciRun("exit 0", "exit 0", '[[ "$1" != check ]] || { echo "system-services: docker: gone" >&2; exit 1; }');
  expect(run.log).toContain("system-services: docker: gone");
  expect(run.calls.at(-1)).toBe("system-services stop STATE_DIR");
  expect({ code: run.code, last: run.lines.at(-1) }).toEqual({ code: 1, last: "0 passed, 1 failed" });
});

test("a failing set-up: no service is started and no test runs, counted as a failure", () => {
  const run = ciRun("exit 0", "exit 3");
  expect(run.calls).toEqual(["setup --test", "system-services stop STATE_DIR"]);
  expect({ code: run.code, last: run.lines.at(-1) }).toEqual({ code: 3, last: "0 passed, 1 failed" });
});
