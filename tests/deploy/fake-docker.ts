// A directory for testing a deploy script against a stand-in `docker`: bin/docker (the given bash
// script, first on PATH) and state/ (where the stand-in keeps what it was told, $FAKE_STATE).
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../harness/runtime-process.ts";

export function fakeDockerDir(prefix: string, script: string): { dir: string; bin: string; state: string } {
  const dir = tempDir(prefix);
  const bin = join(dir, "bin");
  const state = join(dir, "state");
  mkdirSync(bin);
  mkdirSync(state);
  writeFileSync(join(bin, "docker"), script);
  chmodSync(join(bin, "docker"), 0o755);
  return { dir, bin, state };
}
