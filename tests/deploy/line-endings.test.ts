// A checkout on Windows still provisions the VMs: .gitattributes gives every script and every text file
// they read LF line endings (a CR stops bash: $'\r': command not found). Asked of git itself
// (`git check-attr`, `git ls-files --eol`), so untracked new scripts count too.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { REPO_ROOT, requireBinary } from "../../harness/binaries.ts";

function git(args: string[]): string {
  const res = Bun.spawnSync([requireBinary("git"), ...args], { cwd: REPO_ROOT, stdout: "pipe", stderr: "pipe" });
  if (res.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${res.stderr}`);
  return res.stdout.toString();
}

/** Files under `dirs` (relative to the repository) whose first bytes are `#!`. */
function scripts(dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path)) walk(join(path, entry));
    } else if (readFileSync(path).subarray(0, 2).toString() === "#!") {
      out.push(relative(REPO_ROOT, path));
    }
  };
  for (const dir of dirs) if (existsSync(join(REPO_ROOT, dir))) walk(join(REPO_ROOT, dir));
  return out.sort();
}

/** `git check-attr eol` of each path: path -> value ("lf", "unspecified", ...). */
function eol(paths: string[]): Record<string, string> {
  return Object.fromEntries(
    git(["check-attr", "eol", "--", ...paths]).trim().split("\n").map((line) => {
      const [path = "", , value = ""] = line.split(": ");
      return [path, value];
    }),
  );
}

test("every script under deploy/ and scripts/ (and the test images' and CI's) is checked out with LF", () => {
  const found = scripts(["deploy", "scripts", ".ci", "tests/swarm/standins", "tests/vms/standins"]);
  const bash = found.filter((f) => readFileSync(join(REPO_ROOT, f), "utf8").startsWith("#!/usr/bin/env bash"));
  expect(bash).toContain("deploy/stack-deploy");
  expect(bash).toContain("deploy/vagrant/provision-master.sh");
  expect(bash).toContain("scripts/setup");
  const attrs = eol([...found, "Vagrantfile"]);
  expect(Object.entries(attrs).filter(([, value]) => value !== "lf")).toEqual([]);
  expect(Object.keys(attrs).length).toBe(found.length + 1);
});

test("every tracked file is checked out with LF, or is marked binary", () => {
  // `git ls-files --eol`: "i/<index> w/<worktree> attr/<attributes> <tab><path>"
  const rows = git(["ls-files", "--eol"]).trim().split("\n").map((line) => {
    const [info = "", path = ""] = line.split("\t");
    return { path, attr: /attr\/(.*)$/.exec(info)?.[1]?.trim() ?? "" };
  });
  expect(rows.length).toBeGreaterThan(100);
  const loose = rows.filter((r) => r.attr !== "text eol=lf" && r.attr !== "-text");
  expect(loose).toEqual([]);
});
