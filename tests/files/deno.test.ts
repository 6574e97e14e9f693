// The function contract's promise: the same files run unmodified under `deno serve`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireBinary } from "../../harness/binaries.ts";
import { curl } from "../../harness/curl.ts";
import { type Child, spawnChild } from "../../harness/child-process.ts";
import { tempDir } from "../../harness/runtime-process.ts";

const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

const dataDir = tempDir("tarsd-deno-");
const servers: Child[] = [];

async function denoServe(fn: string): Promise<string> {
  const server = await spawnChild(
    `deno serve functions/${fn}.ts`,
    [requireBinary("deno"), "serve", "-A", "--host", "127.0.0.1", "--port", "0", join("functions", `${fn}.ts`)],
    // Any route answers once the server is up: GET /files (download), or 405 for GET /upload.
    fn === "download" ? "/files" : "/upload",
    // Only DATA_DIR: configuration reaches functions through env alone.
    { readyStatus: fn === "download" ? 200 : 405, timeoutMs: 60_000, env: { DATA_DIR: dataDir } },
  );
  servers.push(server);
  return server.url;
}

let uploadUrl: string;
let downloadUrl: string;

beforeAll(async () => {
  [uploadUrl, downloadUrl] = await Promise.all([denoServe("upload"), denoServe("download")]);
}, 60_000);
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

describe("deno serve functions/upload.ts and functions/download.ts", () => {
  test("the historic upload and download flow, with real curl", async () => {
    const work = tempDir("tarsd-deno-client-");
    const original = randomBytes(200_000);
    writeFileSync(join(work, "deno.bin"), original);
    const up = await curl(["-X", "POST", "-F", "file=@deno.bin", `${uploadUrl}/upload`], work);
    expect(JSON.parse(new TextDecoder().decode(up.stdout)).stored[0]).toMatchObject({
      name: "deno.bin",
      sha256: sha(original),
    });
    const down = await curl(["-X", "POST", "-F", "name=deno.bin", `${downloadUrl}/download`]);
    expect(sha(down.stdout)).toBe(sha(original));
  });

  test("REST: PUT, ranged GET, list, delete, and JSON errors", async () => {
    expect((await fetch(`${uploadUrl}/files/rest.txt`, { method: "PUT", body: "deno rest" })).status).toBe(201);
    const part = await fetch(`${downloadUrl}/files/rest.txt`, { headers: { range: "bytes=0-3" } });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe("deno");
    const list = (await (await fetch(`${downloadUrl}/files`)).json()) as { files: { name: string }[] };
    expect(list.files.map((f) => f.name)).toContain("rest.txt");
    expect((await fetch(`${uploadUrl}/files/rest.txt`, { method: "DELETE" })).status).toBe(204);
    const gone = await fetch(`${downloadUrl}/files/rest.txt`);
    expect(gone.status).toBe(404);
    expect((await gone.json()).error).toContain("rest.txt");
    expect((await fetch(`${uploadUrl}/files/.hidden`, { method: "PUT", body: "x" })).status).toBe(400);
  });
});
