// Three runtime processes on one data directory, as the three APP 1 replicas share a volume.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { type RuntimeProcess, startRuntime, tempDir } from "../../harness/runtime-process.ts";

const sha = (data: Uint8Array | ArrayBuffer) => createHash("sha256").update(new Uint8Array(data)).digest("hex");

let dataDir: string;
let replicas: RuntimeProcess[] = [];

beforeAll(async () => {
  dataDir = tempDir("tarsd-shared-");
  replicas = await Promise.all([0, 1, 2].map(() => startRuntime({ FUNCTIONS: "upload,download", DATA_DIR: dataDir })));
});
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop("SIGKILL")));
});

const tmpEntries = () => readdirSync(join(dataDir, "store", "tmp"));

/** A request body that sends `first` bytes, then waits until `release` resolves before finishing. */
function stalledBody(first: Uint8Array, release: Promise<void>, rest: Uint8Array): ReadableStream<Uint8Array> {
  let step = 0;
  return new ReadableStream({
    async pull(controller) {
      if (step++ === 0) return controller.enqueue(first);
      await release;
      controller.enqueue(rest);
      controller.close();
    },
  });
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe("replicas sharing one directory", () => {
  test("a file uploaded through one replica downloads through the others", async () => {
    const body = randomBytes(300_000);
    const form = new FormData();
    form.append("file", new Blob([body]), "shared.bin");
    expect((await fetch(`${replicas[0]!.url}/upload`, { method: "POST", body: form })).status).toBe(201);
    for (const replica of replicas.slice(1)) {
      const res = await fetch(`${replica.url}/files/shared.bin`);
      expect(res.headers.get("etag")).toBe(`"${sha(body)}"`);
      expect(sha(await res.arrayBuffer())).toBe(sha(body));
    }
  });

  test("concurrent uploads of one name end with one whole version; readers never see a mix", async () => {
    const versions = Array.from({ length: 9 }, (_, i) => randomBytes(512 * 1024 + i * 1000));
    const hashes = new Set(versions.map(sha));
    await fetch(`${replicas[0]!.url}/files/contended.bin`, { method: "PUT", body: versions[0] });

    let reading = true;
    let reads = 0;
    const reader = (async () => {
      while (reading) {
        const res = await fetch(`${replicas[reads % 3]!.url}/files/contended.bin`);
        const bytes = await res.arrayBuffer();
        expect(res.status).toBe(200);
        const got = sha(bytes);
        expect(hashes.has(got)).toBe(true);
        expect(res.headers.get("etag")).toBe(`"${got}"`);
        reads++;
      }
    })();
    const results = await Promise.all(
      versions.map((body, i) => fetch(`${replicas[i % 3]!.url}/files/contended.bin`, { method: "PUT", body })),
    );
    reading = false;
    await reader;
    expect(results.every((r) => r.status === 200 || r.status === 201)).toBe(true);
    expect(reads).toBeGreaterThan(0);

    const final = await fetch(`${replicas[2]!.url}/files/contended.bin`);
    const finalHash = sha(await final.arrayBuffer());
    expect(hashes.has(finalHash)).toBe(true);
    expect(final.headers.get("etag")).toBe(`"${finalHash}"`);
    const listed = (await (await fetch(`${replicas[1]!.url}/files`)).json()) as {
      files: { name: string; sha256: string }[];
    };
    expect(listed.files.find((f) => f.name === "contended.bin")?.sha256).toBe(finalHash);
    expect(tmpEntries()).toEqual([]);
  });

  for (const kind of ["PUT", "multipart POST /upload"] as const) {
    test(`a client that disconnects mid-upload (${kind}) leaves no file and no temp file`, async () => {
      const abort = new AbortController();
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const boundary = "tarsd-test-boundary";
      const head = new TextEncoder().encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="abandoned.bin"\r\n\r\n`,
      );
      const first = kind === "PUT" ? randomBytes(2 * 1024 * 1024) : Buffer.concat([head, randomBytes(2 * 1024 * 1024)]);
      const upload = fetch(kind === "PUT" ? `${replicas[1]!.url}/files/abandoned.bin` : `${replicas[1]!.url}/upload`, {
        method: kind === "PUT" ? "PUT" : "POST",
        headers: kind === "PUT" ? {} : { "content-type": `multipart/form-data; boundary=${boundary}` },
        body: stalledBody(first, released, randomBytes(10)),
        signal: abort.signal,
        // @ts-expect-error -- streaming request bodies need half duplex
        duplex: "half",
      }).catch((err) => err);
      await waitFor(() => tmpEntries().length > 0, "the upload's temp file");
      abort.abort();
      release();
      await upload;
      await waitFor(() => tmpEntries().length === 0, "the temp file to be removed");
      expect((await fetch(`${replicas[0]!.url}/files/abandoned.bin`)).status).toBe(404);
      // The request's log line is written once its handler has answered, which may be after the
      // temp file is gone: wait for it, then read the status it logged.
      const path = kind === "PUT" ? "/files/abandoned.bin" : "/upload";
      const logged = () => replicas[1]!.logLines().filter((line) => line.path === path);
      await waitFor(() => logged().length > 0, `the log line of ${path}`);
      expect(logged().map((line) => line.status)).toEqual([400]);
    });
  }

  test("a replica killed with -9 mid-upload leaves nothing visible; its temp file is cleaned at restart", async () => {
    const victim = replicas[2]!;
    await fetch(`${victim.url}/files/survivor.bin`, { method: "PUT", body: "old version" });
    const never = new Promise<void>(() => {});
    const upload = fetch(`${victim.url}/files/survivor.bin`, {
      method: "PUT",
      body: stalledBody(randomBytes(3 * 1024 * 1024), never, new Uint8Array()),
      // @ts-expect-error -- streaming request bodies need half duplex
      duplex: "half",
    }).catch((err) => err);
    await waitFor(() => tmpEntries().length > 0, "the upload's temp file");
    await victim.stop("SIGKILL");
    await upload;

    const res = await fetch(`${replicas[0]!.url}/files/survivor.bin`);
    expect(await res.text()).toBe("old version");
    const names = ((await (await fetch(`${replicas[0]!.url}/files`)).json()) as { files: { name: string }[] }).files
      .map((f) => f.name);
    expect(names.some((n) => n.startsWith("."))).toBe(false);
    expect(tmpEntries().length).toBe(1);

    replicas[2] = await startRuntime({ FUNCTIONS: "upload,download", DATA_DIR: dataDir });
    expect(tmpEntries()).toEqual([]);
    expect(await (await fetch(`${replicas[2]!.url}/files/survivor.bin`)).text()).toBe("old version");
  });
});
