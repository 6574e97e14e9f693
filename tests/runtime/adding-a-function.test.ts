// docs/adding-a-function.md, followed in a copy of the repository: its example function and test (the
// code blocks marked `file=<path>`) written there, the test run, the function bundled by
// deploy/bundle-function and loaded by the runtime with AUTH_TOKEN set: its write needs the token though
// it declares none, its read is open, /openapi.json says so; and deploy/stack-deploy's function ids,
// derived from functions/ and the stack file, include it once the guide's config is in the stack.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { REPO_ROOT, requireBinary } from "../../harness/binaries.ts";
import { bundleFunctions, type Bundles, copyCheckout } from "../../harness/bundles.ts";
import { type RuntimeProcess, startRuntime } from "../../harness/runtime-process.ts";

const GUIDE = readFileSync(join(REPO_ROOT, "docs", "adding-a-function.md"), "utf8");
const TOKEN = "n0tes-token";

/** The guide's code blocks by their mark (`file=functions/notes.ts`, `stack=configs`), exactly as written. */
function blocks(): Map<string, string> {
  const found = new Map<string, string>();
  for (const [, mark, code] of GUIDE.matchAll(/^```[a-z]+ ((?:file|stack)=\S+)\n([\s\S]*?)^```$/gm)) {
    expect(found.has(mark!)).toBe(false);
    found.set(mark!, code!);
  }
  return found;
}

let copy: string;
let bundles: Bundles;
const runtimes: RuntimeProcess[] = [];

beforeAll(() => {
  copy = copyCheckout();
  cpSync(join(REPO_ROOT, "harness"), join(copy, "harness"), { recursive: true });
  symlinkSync(join(REPO_ROOT, "node_modules"), join(copy, "node_modules"));
  for (const [mark, code] of blocks()) {
    if (!mark.startsWith("file=")) continue;
    const path = join(copy, mark.slice("file=".length));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, code);
  }
  bundles = bundleFunctions(join(copy, "app"), copy);
});
afterAll(async () => {
  for (const rt of runtimes) await rt.stop();
  rmSync(copy, { recursive: true, force: true });
});

test("the guide gives the function, its test and the stack's config", () => {
  expect([...blocks().keys()].sort()).toEqual([
    "file=functions/notes.ts",
    "file=tests/notes/notes.test.ts",
    "stack=configs",
  ]);
});

test("the guide's test passes in the copy", () => {
  const res = Bun.spawnSync([process.execPath, "test", "--timeout", "60000", "tests/notes/notes.test.ts"], {
    cwd: copy,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 120_000,
  });
  const output = res.stdout.toString() + res.stderr.toString();
  expect({ exitCode: res.exitCode, output }).toEqual({ exitCode: 0, output: expect.stringContaining(" 1 pass") });
}, 150_000);

test(
  "bundled and loaded with AUTH_TOKEN set: the POST needs the token, the GET is open, /openapi.json says so",
  async () => {
    const rt = await startRuntime({ FUNCTIONS_DIR: bundles.functionsDir, FUNCTIONS: "notes", AUTH_TOKEN: TOKEN });
    runtimes.push(rt);
    const loaded = (await (await fetch(`${rt.url}/functions`)).json()) as {
      name: string;
      file: string;
      sha256: string;
    }[];
    expect(loaded).toEqual([
      expect.objectContaining({ name: "notes", file: "notes.js", sha256: bundles.sha256("notes") }),
    ]);

    const post = (headers: Record<string, string>) =>
      fetch(`${rt.url}/notes`, { method: "POST", body: "buy milk", headers });
    for (
      const headers of [{} as Record<string, string>, { authorization: "Bearer wrong" }, {
        authorization: `Bearer ${TOKEN}x`,
      }]
    ) {
      const refused = await post(headers);
      expect({ headers, status: refused.status }).toEqual({ headers, status: 401 });
      expect(refused.headers.get("www-authenticate")).toBe('Bearer realm="tf-tarsd"');
    }
    expect(await (await fetch(`${rt.url}/notes`)).json()).toEqual([]);
    const added = await post({ authorization: `Bearer ${TOKEN}` });
    expect(added.status).toBe(201);
    expect(await added.json()).toEqual(["buy milk"]);
    const read = await fetch(`${rt.url}/notes`);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(["buy milk"]);

    const doc = (await (await fetch(`${rt.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
    };
    expect(doc.paths["/notes"]!.post!.security).toEqual([{}, { bearerAuth: [] }]);
    expect(doc.paths["/notes"]!.post!.responses).toHaveProperty("401");
    expect(doc.paths["/notes"]!.get!.security).toEqual([]);
  },
  60_000,
);

test("without any token the write is open, as the historic API is", async () => {
  const rt = await startRuntime({ FUNCTIONS_DIR: bundles.functionsDir, FUNCTIONS: "notes" });
  runtimes.push(rt);
  const added = await fetch(`${rt.url}/notes`, { method: "POST", body: "open" });
  expect(added.status).toBe(201);
}, 60_000);

test(
  "deploy/stack-deploy derives FN_NOTES_ID from functions/; deployed once the guide's config is in the stack",
  () => {
    const stackFile = join(copy, "deploy", "stack.yml");
    const original = readFileSync(stackFile, "utf8");
    const printIds = () => {
      const res = Bun.spawnSync([requireBinary("bash"), join(copy, "deploy", "stack-deploy"), "--print-function-ids"], {
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "/tmp",
          TARSD_ARTIFACTS: join(copy, ".artifacts"),
        },
        stdout: "pipe",
        stderr: "pipe",
        timeout: 60_000,
      });
      const ids = Object.fromEntries(
        res.stdout.toString().trim().split("\n").filter(Boolean).map((line) => line.split("=") as [string, string]),
      );
      return { code: res.exitCode, ids, err: res.stderr.toString() };
    };
    const notesId = bundles.sha256("notes").slice(0, 12);

    // Not in the stack yet: bundled, and said to be not deployed.
    const before = printIds();
    expect(before.code).toBe(0);
    expect(before.ids).toEqual({
      FN_DOWNLOAD_ID: bundles.sha256("download").slice(0, 12),
      FN_NOTES_ID: notesId,
      FN_REMOTE_WRITE_ID: bundles.sha256("remote-write").slice(0, 12),
      FN_UPLOAD_ID: bundles.sha256("upload").slice(0, 12),
    });
    expect(before.err).toContain("functions/notes.ts is bundled but not deployed");

    // The guide's config under `configs:`: deployed, nothing said.
    const config = blocks().get("stack=configs")!;
    expect(original).toMatch(/^configs:\n/m);
    writeFileSync(stackFile, original.replace(/^configs:\n/m, `configs:\n${config}`));
    const after = printIds();
    expect(after.code).toBe(0);
    expect(after.ids.FN_NOTES_ID).toBe(notesId);
    expect(after.err).toBe("");

    // A config for a function there is no file of stops it, naming the function.
    writeFileSync(
      stackFile,
      original.replace(/^configs:\n/m, `configs:\n${config.replaceAll("notes", "ghost").replaceAll("NOTES", "GHOST")}`),
    );
    const ghost = printIds();
    expect(ghost.code).toBe(1);
    expect(ghost.err).toContain("a config for function ghost, but there is no functions/ghost.ts");
    writeFileSync(stackFile, original);
  },
  120_000,
);
