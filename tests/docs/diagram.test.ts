// The architecture picture the README shows, docs/architecture.svg, is what docs/render-diagram makes of
// its text source, docs/architecture.dot: editing the source without rendering it again fails here.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, requireBinary } from "../../harness/binaries.ts";

test("docs/architecture.svg is docs/architecture.dot rendered (bash docs/render-diagram)", () => {
  requireBinary("dot"); // Graphviz: a missing one fails naming the set-up command
  const res = Bun.spawnSync(["bash", join(REPO_ROOT, "docs", "render-diagram"), "--stdout"], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  expect({ code: res.exitCode, err: res.stderr.toString() }).toEqual({ code: 0, err: "" });
  const rendered = res.stdout.toString();
  const committed = readFileSync(join(REPO_ROOT, "docs", "architecture.svg"), "utf8");
  if (rendered !== committed) {
    throw new Error(
      "docs/architecture.svg is stale: it is not what docs/architecture.dot renders to. " +
        "Run `bash docs/render-diagram` and commit docs/architecture.svg.",
    );
  }
  // The picture shows what the README says it does.
  for (const text of ["192.168.50.2", "192.168.50.3", ":5001", ":3000", ":9090", ":8086", ":8087", "APP 2", "APP 3"]) {
    expect(rendered).toContain(text);
  }
});

test("docs/render-diagram answers --help and passes shellcheck", () => {
  const script = join(REPO_ROOT, "docs", "render-diagram");
  const res = Bun.spawnSync(["bash", script, "--help"], { stdout: "pipe" });
  expect(res.exitCode).toBe(0);
  expect(res.stdout.toString()).toContain("docs/architecture.dot");
  const check = Bun.spawnSync([requireBinary("shellcheck"), "--severity=style", script], { stdout: "pipe" });
  expect({ code: check.exitCode, out: check.stdout.toString() }).toEqual({ code: 0, out: "" });
});
