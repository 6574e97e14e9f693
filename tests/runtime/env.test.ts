// Configuration from the environment, including NAME_FILE (how swarm secrets arrive).
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { envFirst, envInt, envString } from "@tarsd/sdk";
import { tempDir } from "../../harness/runtime-process.ts";

const names = ["TARSD_T_A", "TARSD_T_A_FILE", "TARSD_T_B", "TARSD_T_B_FILE", "TARSD_T_N"];
afterEach(() => {
  for (const name of names) delete process.env[name];
});

describe("env", () => {
  test("a value, then NAME_FILE's trimmed content, then the fallback", () => {
    expect(envString("TARSD_T_A", "fallback")).toBe("fallback");
    const file = join(tempDir(), "secret");
    writeFileSync(file, "from-file\n");
    process.env.TARSD_T_A_FILE = file;
    expect(envString("TARSD_T_A")).toBe("from-file");
    process.env.TARSD_T_A = "direct";
    expect(envString("TARSD_T_A")).toBe("direct");
  });

  test("an empty value or empty secret file counts as unset", () => {
    process.env.TARSD_T_A = "";
    expect(envString("TARSD_T_A", "fallback")).toBe("fallback");
    const file = join(tempDir(), "empty");
    writeFileSync(file, "  \n");
    process.env.TARSD_T_B_FILE = file;
    expect(envString("TARSD_T_B")).toBeUndefined();
  });

  test("envFirst takes the first variable that is set, files included", () => {
    const file = join(tempDir(), "b");
    writeFileSync(file, "b-token");
    process.env.TARSD_T_B_FILE = file;
    expect(envFirst("TARSD_T_A", "TARSD_T_B")).toBe("b-token");
    process.env.TARSD_T_A = "a-token";
    expect(envFirst("TARSD_T_A", "TARSD_T_B")).toBe("a-token");
  });

  test("envInt refuses what is not a non-negative integer, naming the variable", () => {
    expect(envInt("TARSD_T_N", 7)).toBe(7);
    process.env.TARSD_T_N = "12";
    expect(envInt("TARSD_T_N", 7)).toBe(12);
    process.env.TARSD_T_N = "12MB";
    expect(() => envInt("TARSD_T_N", 7)).toThrow("TARSD_T_N must be a non-negative integer");
  });
});
