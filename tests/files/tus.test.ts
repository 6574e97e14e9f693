// tus 1.0 resumable uploads (/uploads), served in the test's process (tests/files/serve-files.ts): two
// hosts sharing one data directory stand in for two replicas sharing a volume; two more share another,
// one of them with fast expiry. A full disk needs a runtime process of its own (a mount namespace).
// Auth on the tus routes is checked with every other write route's, in http-api.test.ts.
import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tus from "tus-js-client";
import { startRuntime, tempDir } from "../../harness/runtime-process.ts";
import { type FileHost, serveFiles, stopAll } from "./serve-files.ts";

const MAX_UPLOAD_BYTES = 32 * 1024 * 1024;
const TUS = { "tus-resumable": "1.0.0" };
const OCTETS = { ...TUS, "content-type": "application/offset+octet-stream" };

const sha = (data: Uint8Array | ArrayBuffer) => createHash("sha256").update(new Uint8Array(data)).digest("hex");
const metadata = (name: string) => `filename ${Buffer.from(name, "utf8").toString("base64")}`;

let shared: string;
let a: FileHost;
let b: FileHost;
/** Removes uploads untouched for 1.5 s, in a pass every 100 ms; `keeper` shares its directory. */
let expiring: FileHost;
/** Default settings (no pass due during the tests): its requests never find an upload expired. */
let keeper: FileHost;

beforeAll(async () => {
  shared = tempDir("tarsd-tus-");
  a = await serveFiles({ dataDir: shared, maxUploadBytes: MAX_UPLOAD_BYTES });
  b = await serveFiles({ dataDir: shared, maxUploadBytes: MAX_UPLOAD_BYTES });
  expiring = await serveFiles({ uploadExpiryMs: 1500, gcIntervalMs: 100 });
  keeper = await serveFiles({ dataDir: expiring.dataDir });
});
afterAll(async () => {
  await stopAll([a, b, expiring, keeper]);
});

const uploadsDir = (dataDir: string) => join(dataDir, "store", "uploads");

async function create(url: string, length: number, name: string, headers: Record<string, string> = {}) {
  return await fetch(`${url}/uploads`, {
    method: "POST",
    headers: { ...TUS, "upload-length": String(length), "upload-metadata": metadata(name), ...headers },
  });
}

/** Creates an upload and returns its path (/uploads/<id>). */
async function created(url: string, length: number, name: string): Promise<string> {
  const res = await create(url, length, name);
  expect(res.status).toBe(201);
  expect(res.headers.get("tus-resumable")).toBe("1.0.0");
  const location = res.headers.get("location")!;
  expect(location).toMatch(/^\/uploads\/[0-9a-f]{32}$/);
  return location;
}

async function patch(url: string, location: string, offset: number, body: BodyInit, headers = {}, init = {}) {
  return await fetch(`${url}${location}`, {
    method: "PATCH",
    headers: { ...OCTETS, "upload-offset": String(offset), ...headers },
    body,
    ...init,
  });
}

async function offsetOf(url: string, location: string): Promise<number | null> {
  const res = await fetch(`${url}${location}`, { method: "HEAD", headers: TUS });
  if (res.status !== 200) return null;
  expect(res.headers.get("cache-control")).toBe("no-store");
  return Number(res.headers.get("upload-offset"));
}

async function fileSha(url: string, name: string): Promise<string | number> {
  const res = await fetch(`${url}/files/${encodeURIComponent(name)}`);
  return res.status === 200 ? sha(await res.arrayBuffer()) : res.status;
}

async function expectError(res: Response, status: number): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get("tus-resumable")).toBe("1.0.0");
  const body = (await res.json()) as { error: string; status: number };
  expect(body.status).toBe(status);
  expect(body.error.length).toBeGreaterThan(0);
  return body.error;
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe("tus: the protocol", () => {
  test("OPTIONS tells the version, extensions and largest upload, without Tus-Resumable", async () => {
    const res = await fetch(`${a.url}/uploads`, { method: "OPTIONS" });
    expect(res.status).toBe(204);
    expect(res.headers.get("tus-resumable")).toBe("1.0.0");
    expect(res.headers.get("tus-version")).toBe("1.0.0");
    expect(res.headers.get("tus-extension")).toBe("creation,termination");
    expect(res.headers.get("tus-max-size")).toBe(String(MAX_UPLOAD_BYTES));
  });

  test("created, appended in several chunks, stored whole only with the last byte (the old version until then)", async () => {
    const old = randomBytes(1000);
    expect((await fetch(`${a.url}/files/chunks.bin`, { method: "PUT", body: old })).status).toBe(201);
    const body = randomBytes(3 * 1024 * 1024 + 17);
    const location = await created(a.url, body.byteLength, "chunks.bin");
    expect(await offsetOf(a.url, location)).toBe(0);
    const cuts = [0, 1024 * 1024, 2 * 1024 * 1024 + 5, body.byteLength];
    for (let i = 0; i < cuts.length - 1; i++) {
      const res = await patch(i % 2 ? b.url : a.url, location, cuts[i]!, body.subarray(cuts[i], cuts[i + 1]));
      expect(res.status).toBe(204);
      expect(res.headers.get("upload-offset")).toBe(String(cuts[i + 1]));
      expect(res.headers.get("tus-resumable")).toBe("1.0.0");
      expect(await offsetOf(b.url, location)).toBe(cuts[i + 1]!);
      if (i < cuts.length - 2) expect(await fileSha(b.url, "chunks.bin")).toBe(sha(old));
    }
    expect(await fileSha(a.url, "chunks.bin")).toBe(sha(body));
    expect(await fileSha(b.url, "chunks.bin")).toBe(sha(body));
    // Complete: HEAD still answers (a client that lost the last 204 sees it is done), no bytes left over.
    const head = await fetch(`${a.url}${location}`, { method: "HEAD", headers: TUS });
    expect(head.headers.get("upload-offset")).toBe(String(body.byteLength));
    expect(head.headers.get("upload-length")).toBe(String(body.byteLength));
    expect(head.headers.get("upload-metadata")).toBe(metadata("chunks.bin"));
    const id = location.split("/").pop()!;
    expect(readdirSync(uploadsDir(shared)).filter((e) => e.startsWith(id))).toEqual([`${id}.done.json`]);
  });

  test("a PATCH at the wrong offset is 409 and changes nothing; one after completion is 409 too", async () => {
    const body = randomBytes(4096);
    const location = await created(a.url, body.byteLength, "offsets.bin");
    expect((await patch(a.url, location, 0, body.subarray(0, 1000))).status).toBe(204);
    expect(await expectError(await patch(a.url, location, 0, body.subarray(0, 1000)), 409)).toContain("1000");
    await expectError(await patch(b.url, location, 2000, body.subarray(2000)), 409);
    expect(await offsetOf(a.url, location)).toBe(1000);
    expect((await patch(b.url, location, 1000, body.subarray(1000))).status).toBe(204);
    expect(await fileSha(a.url, "offsets.bin")).toBe(sha(body));
    await expectError(await patch(a.url, location, body.byteLength, new Uint8Array(0)), 409);
  });

  test("a request without Tus-Resumable 1.0.0 is 412 (with Tus-Version), and changes nothing", async () => {
    const location = await created(a.url, 10, "versions.bin");
    const noVersion = { "upload-length": "10", "upload-metadata": metadata("versions.bin") };
    await expectError(await fetch(`${a.url}/uploads`, { method: "POST", headers: noVersion }), 412);
    const old = await fetch(`${a.url}/uploads`, {
      method: "POST",
      headers: { ...noVersion, "tus-resumable": "0.2.2" },
    });
    expect(old.headers.get("tus-version")).toBe("1.0.0");
    await expectError(old, 412);
    const head = await fetch(`${a.url}${location}`, { method: "HEAD" });
    expect(head.status).toBe(412);
    expect(head.headers.get("tus-resumable")).toBe("1.0.0");
    await expectError(
      await fetch(`${a.url}${location}`, {
        method: "PATCH",
        headers: { "content-type": "application/offset+octet-stream", "upload-offset": "0" },
        body: "0123456789",
      }),
      412,
    );
    await expectError(await fetch(`${a.url}${location}`, { method: "DELETE" }), 412);
    expect(await offsetOf(a.url, location)).toBe(0);
  });

  test("a PATCH body of another type is 415", async () => {
    const location = await created(a.url, 10, "types.bin");
    await expectError(
      await patch(a.url, location, 0, "0123456789", { "content-type": "application/octet-stream" }),
      415,
    );
    expect(await offsetOf(a.url, location)).toBe(0);
  });

  test("over MAX_UPLOAD_BYTES is 413 at creation; bytes past Upload-Length are 413 and none is written", async () => {
    expect(await expectError(await create(a.url, MAX_UPLOAD_BYTES + 1, "huge.bin"), 413)).toBe(
      `an upload of ${MAX_UPLOAD_BYTES + 1} bytes is over the limit of ${MAX_UPLOAD_BYTES} bytes`,
    );
    const location = await created(a.url, 100, "short.bin");
    expect((await patch(a.url, location, 0, randomBytes(40))).status).toBe(204);
    // Content-Length says so: refused before anything is written.
    expect(await expectError(await patch(a.url, location, 40, randomBytes(61)), 413)).toBe(
      "61 bytes at offset 40 go past the upload's length of 100 bytes",
    );
    // A streamed body (no Content-Length) that runs past the length: the part that fitted is undone too.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(randomBytes(50));
        controller.enqueue(randomBytes(50));
        controller.close();
      },
    });
    expect(await expectError(await patch(a.url, location, 40, stream), 413)).toBe(
      "the body goes past the upload's length of 100 bytes",
    );
    expect(await offsetOf(a.url, location)).toBe(40);
    expect(statSync(join(uploadsDir(shared), location.split("/").pop()!)).size).toBe(40);
  });

  test("creation needs Upload-Length and a valid file name in Upload-Metadata: 400 otherwise", async () => {
    for (const name of ["../escape", ".hidden", "a/b", "x".repeat(256), ""]) {
      await expectError(await create(a.url, 10, name), 400);
    }
    const post = (headers: Record<string, string>) => fetch(`${a.url}/uploads`, { method: "POST", headers });
    await expectError(await post({ ...TUS, "upload-metadata": metadata("fine.bin") }), 400);
    await expectError(await post({ ...TUS, "upload-length": "-1", "upload-metadata": metadata("fine.bin") }), 400);
    // Past 2^53: not a length at all (400), rather than one over the limit.
    expect(
      await expectError(
        await post({ ...TUS, "upload-length": "9".repeat(16), "upload-metadata": metadata("fine.bin") }),
        400,
      ),
    )
      .toBe("the upload length must be a non-negative integer");
    await expectError(await post({ ...TUS, "upload-length": "10" }), 400);
    await expectError(await post({ ...TUS, "upload-length": "10", "upload-metadata": "filename not*base64" }), 400);
    await expectError(await post({ ...TUS, "upload-length": "10", "upload-metadata": "name Zm9v" }), 400);
    // Invalid UTF-8 (0xff) is refused, not turned into U+FFFD.
    await expectError(await post({ ...TUS, "upload-length": "10", "upload-metadata": "filename /w==" }), 400);
  });

  test("an empty upload is complete at creation", async () => {
    const location = await created(a.url, 0, "empty.bin");
    expect(await offsetOf(a.url, location)).toBe(0);
    expect(await fileSha(b.url, "empty.bin")).toBe(sha(new Uint8Array(0)));
  });

  test("termination removes the upload and its bytes; unknown ids are 404", async () => {
    const location = await created(a.url, 100, "terminated.bin");
    expect((await patch(a.url, location, 0, randomBytes(30))).status).toBe(204);
    const res = await fetch(`${b.url}${location}`, { method: "DELETE", headers: TUS });
    expect(res.status).toBe(204);
    expect(res.headers.get("tus-resumable")).toBe("1.0.0");
    expect((await fetch(`${a.url}${location}`, { method: "HEAD", headers: TUS })).status).toBe(404);
    await expectError(await patch(a.url, location, 30, randomBytes(10)), 404);
    await expectError(await fetch(`${a.url}${location}`, { method: "DELETE", headers: TUS }), 404);
    const id = location.split("/").pop()!;
    expect(readdirSync(uploadsDir(shared)).filter((e) => e.startsWith(id))).toEqual([]);
    expect(await fileSha(a.url, "terminated.bin")).toBe(404);
    for (const unknown of ["0123456789abcdef0123456789abcdef", "nope", "..%2F..%2Fetc"]) {
      await expectError(await patch(a.url, `/uploads/${unknown}`, 0, "x"), 404);
    }
  });
});

describe("tus: across replicas and failures", () => {
  test("an upload cut off midway through replica A resumes through replica B from the offset A kept", async () => {
    const body = randomBytes(6 * 1024 * 1024);
    const location = await created(a.url, body.byteLength, "resumed.bin");
    const dataFile = join(uploadsDir(shared), location.split("/").pop()!);
    const abort = new AbortController();
    const chunk = 256 * 1024;
    let sent = 0;
    const slow = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= 3 * 1024 * 1024) {
          // Stalls half way until the connection drops (below); then the body ends as a dropped one does.
          await new Promise((resolve) => abort.signal.addEventListener("abort", resolve));
          return controller.error(new Error("connection dropped"));
        }
        controller.enqueue(body.subarray(sent, sent + chunk));
        sent += chunk;
      },
    });
    const cut = patch(a.url, location, 0, slow, {}, { signal: abort.signal }).catch((err: Error) => err);
    // Some bytes reached A's disk (it writes them 1 MiB at a time): now the connection drops.
    await waitFor(() => existsSync(dataFile) && statSync(dataFile).size >= 1024 * 1024, "bytes on disk");
    abort.abort();
    expect(await cut).toBeInstanceOf(Error);

    // What a tus client does: HEAD for the offset, PATCH the rest; A may still be finishing with the
    // cut-off request (409 / 423 then), so ask again.
    let offset = -1;
    for (let attempt = 0; attempt < 50; attempt++) {
      offset = (await offsetOf(b.url, location))!;
      const res = await patch(b.url, location, offset, body.subarray(offset));
      if (res.status === 204) break;
      expect([409, 423]).toContain(res.status);
      await Bun.sleep(100);
    }
    expect(offset).toBeGreaterThanOrEqual(1024 * 1024);
    expect(offset).toBeLessThan(body.byteLength);
    expect(await fileSha(a.url, "resumed.bin")).toBe(sha(body));
    expect(await fileSha(b.url, "resumed.bin")).toBe(sha(body));
  });

  test("one PATCH at a time: a second one, on another replica, is 423 while the first holds the upload", async () => {
    const body = randomBytes(2 * 1024 * 1024);
    const location = await created(a.url, body.byteLength, "locked.bin");
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let step = 0;
    const stalled = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (step++ === 0) return controller.enqueue(body.subarray(0, 1000));
        await released;
        controller.enqueue(body.subarray(1000));
        controller.close();
      },
    });
    const first = patch(a.url, location, 0, stalled);
    const id = location.split("/").pop()!;
    await waitFor(() => existsSync(join(uploadsDir(shared), `${id}.lock`)), "the first PATCH's lock");
    await expectError(await patch(b.url, location, 0, body), 423);
    await expectError(await fetch(`${b.url}${location}`, { method: "DELETE", headers: TUS }), 423);
    release();
    expect((await first).status).toBe(204);
    expect(await fileSha(b.url, "locked.bin")).toBe(sha(body));
  });

  test("a replica that died after the last byte (lock left behind): the next HEAD, anywhere, commits the file", async () => {
    const body = randomBytes(512 * 1024);
    const location = await created(a.url, body.byteLength, "crashed.bin");
    const id = location.split("/").pop()!;
    // What the dead replica left: every byte on disk, its lock, nothing committed; minutes ago.
    const dataFile = join(uploadsDir(shared), id);
    const lockFile = `${dataFile}.lock`;
    writeFileSync(dataFile, body);
    writeFileSync(lockFile, JSON.stringify({ host: "gone", pid: 1, nonce: "x" }));
    const minutesAgo = new Date(Date.now() - 5 * 60 * 1000);
    for (const path of [dataFile, lockFile, `${dataFile}.json`]) utimesSync(path, minutesAgo, minutesAgo);
    expect(await fileSha(b.url, "crashed.bin")).toBe(404);
    expect(await offsetOf(b.url, location)).toBe(body.byteLength);
    expect(await fileSha(a.url, "crashed.bin")).toBe(sha(body));
    expect(readdirSync(uploadsDir(shared)).filter((e) => e.startsWith(id))).toEqual([`${id}.done.json`]);
  });

  test("an abandoned upload is removed by the periodic pass and then unknown (404)", async () => {
    const log = spyOn(console, "log");
    try {
      // Begun through the host whose requests never find it expired; the other host's pass removes it.
      const location = await created(keeper.url, 1000, "abandoned.bin");
      expect((await patch(keeper.url, location, 0, randomBytes(100))).status).toBe(204);
      const id = location.split("/").pop()!;
      const entries = () => readdirSync(uploadsDir(expiring.dataDir)).filter((e) => e.startsWith(id)).sort();
      expect(entries()).toEqual([id, `${id}.json`]);
      const removed = JSON.stringify({ level: "info", msg: "removed abandoned uploads", uploads: [id] });
      await waitFor(() => log.mock.calls.some((call) => call[0] === removed), "the pass's log line", 15_000);
      expect(entries()).toEqual([]);
      await expectError(await patch(keeper.url, location, 100, randomBytes(100)), 404);
      expect((await fetch(`${expiring.url}${location}`, { method: "HEAD", headers: TUS })).status).toBe(404);
      expect((await fetch(`${keeper.url}${location}`, { method: "HEAD", headers: TUS })).status).toBe(404);
    } finally {
      log.mockRestore();
    }
  }, 20_000);

  test(
    "a full disk during PATCH is 507; the bytes written before stay, and the upload resumes once space is freed",
    async () => {
      // The runtime in its own user and mount namespaces, its DATA_DIR an 8 MiB tmpfs: a disk that
      // fills up, without root. Blobs no name points to go at the next collector passes (grace 0).
      const full = await startRuntime(
        {
          FUNCTIONS: "upload,download",
          DATA_DIR: tempDir("tarsd-full-"),
          GC_GRACE_SECONDS: "0",
          GC_INTERVAL_SECONDS: "1",
        },
        { prefix: ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=8m tmpfs "$DATA_DIR" && exec "$@"', "sh"] },
      );
      try {
        const filler = randomBytes(5 * 1024 * 1024);
        expect((await fetch(`${full.url}/files/filler.bin`, { method: "PUT", body: filler })).status).toBe(201);
        const body = randomBytes(5 * 1024 * 1024);
        const location = await created(full.url, body.byteLength, "after-full.bin");
        expect(await expectError(await patch(full.url, location, 0, body), 507)).toContain("keeps its first");
        const kept = (await offsetOf(full.url, location))!;
        expect(kept).toBeGreaterThan(0);
        expect(kept).toBeLessThan(body.byteLength);
        expect(await fileSha(full.url, "after-full.bin")).toBe(404);

        expect((await fetch(`${full.url}/files/filler.bin`, { method: "DELETE" })).status).toBe(204);
        // What a client does: HEAD, PATCH the rest; 507 until the collector has freed the filler's blob.
        let status = 0;
        for (const deadline = Date.now() + 15_000; status !== 204 && Date.now() < deadline; await Bun.sleep(200)) {
          const offset = (await offsetOf(full.url, location))!;
          expect(offset).toBeGreaterThanOrEqual(kept);
          status = (await patch(full.url, location, offset, body.subarray(offset))).status;
          expect([204, 507]).toContain(status);
        }
        expect(status).toBe(204);
        expect(await fileSha(full.url, "after-full.bin")).toBe(sha(body));
      } finally {
        await full.stop("SIGKILL");
      }
    },
    30_000,
  );
});

describe("tus-js-client", () => {
  test("uploads a multi-MiB file in chunks through the host", async () => {
    const body = randomBytes(5 * 1024 * 1024 + 123); // A Buffer: what the Node build of the client reads
    const progress: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(body, {
        endpoint: `${a.url}/uploads`,
        chunkSize: 2 * 1024 * 1024,
        metadata: { filename: "tus-js-client.bin" },
        retryDelays: [100, 500],
        onProgress: (sent) => progress.push(sent),
        onError: reject,
        onSuccess: () => resolve(),
      });
      upload.start();
    });
    expect(progress.at(-1)).toBe(body.byteLength);
    expect(await fileSha(b.url, "tus-js-client.bin")).toBe(sha(body));
  }, 30_000);
});
