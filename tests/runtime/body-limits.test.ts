// Each route has its own body limit, declared by its function: with every function loaded, the file
// limit (MAX_UPLOAD_BYTES) is not applied to remote write (REMOTE_WRITE_MAX_BYTES) and the other way
// round. A 413 names the limit of the route that refused, as its users configured it.
// The same with the functions as they are deployed (bundles, configured by the environment): the
// contract's limit is thrown inside the function's own body read and must still answer 413.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { repositoryFunctionBundles } from "../../harness/bundles.ts";
import { randomBytes } from "node:crypto";
import { startRuntime, tempDir } from "../../harness/runtime-process.ts";
import { newRegistry, startInProcess } from "../../harness/in-process.ts";
import { defaultSettings } from "../files/serve-files.ts";
import { uploadFunction } from "../../functions/upload.ts";
import { downloadFunction } from "../../functions/download.ts";
import { remoteWriteFunction } from "../../functions/remote-write.ts";
import { DEFAULT_REMOTE_WRITE_SETTINGS } from "../../lib/remote-write/settings.ts";
import { type TestSeries, writeRequest } from "../../harness/remote-write-requests.ts";

const MiB = 1024 * 1024;

/** Series with random (incompressible) label values, so the snappy body is about `bytes` long. */
function seriesOf(bytes: number): TestSeries[] {
  return Array.from({ length: Math.ceil(bytes / 75) }, (_, i) => ({
    labels: [["__name__", "big_write"], ["id", randomBytes(32).toString("hex")], ["n", String(i)]] as [
      string,
      string,
    ][],
    samples: [{ value: i, timestamp: 1_700_000_000_000 }],
  }));
}

const FUNCTION_FORMS: Record<string, () => Promise<{ url: string; stop(): Promise<unknown> }>> = {
  // Every function built from its settings, served in this process.
  "sources, in process": async () => {
    const dataDir = tempDir();
    const registry = newRegistry();
    const files = { ...defaultSettings(dataDir), maxUploadBytes: MiB };
    return await startInProcess({
      upload: uploadFunction(files),
      download: downloadFunction(files),
      "remote-write": remoteWriteFunction(
        { ...DEFAULT_REMOTE_WRITE_SETTINGS, dataDir, maxBodyBytes: 3 * MiB },
        { registry },
      ),
    }, { registry });
  },
  // The deployed bundles in a runtime process, configured by its environment; no FUNCTIONS: every
  // function, as `bash scripts/start` runs them.
  "bundles, in a runtime process": () =>
    startRuntime({
      FUNCTIONS_DIR: repositoryFunctionBundles().functionsDir,
      MAX_UPLOAD_BYTES: String(MiB),
      REMOTE_WRITE_MAX_BYTES: String(3 * MiB),
    }),
};

describe.each(Object.keys(FUNCTION_FORMS))("functions as %s", (form) => {
  let rt: { url: string; stop(): Promise<unknown> };
  beforeAll(async () => {
    rt = await FUNCTION_FORMS[form]!();
  }, 60_000);
  afterAll(async () => void (await rt?.stop()));

  test("a 2 MB remote write is written although MAX_UPLOAD_BYTES is 1 MiB", async () => {
    const request = writeRequest(`${rt.url}/api/v1/write`, seriesOf(2_000_000));
    const size = (await request.clone().arrayBuffer()).byteLength;
    expect(size).toBeGreaterThan(1.8 * MiB);
    expect(size).toBeLessThan(3 * MiB);
    const res = await fetch(request);
    expect(await res.text()).toBe("");
    expect(res.status).toBe(204);
  });

  test("a remote write over REMOTE_WRITE_MAX_BYTES is 413 naming that limit", async () => {
    const res = await fetch(writeRequest(`${rt.url}/api/v1/write`, seriesOf(4_000_000)));
    expect(res.status).toBe(413);
    expect((await res.json()).error).toMatch(new RegExp(`over the limit of ${3 * MiB} bytes`));
  });

  test("the file routes keep MAX_UPLOAD_BYTES: PUT and chunked PUT over 1 MiB are 413 naming it", async () => {
    const body = randomBytes(MiB + 1);
    const put = await fetch(`${rt.url}/files/big.bin`, { method: "PUT", body });
    expect(put.status).toBe(413);
    expect((await put.json()).error).toContain(`over the limit of ${MiB} bytes`);
    const chunked = await fetch(`${rt.url}/files/big.bin`, {
      method: "PUT",
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(body);
          controller.close();
        },
      }),
      // @ts-expect-error -- streaming request bodies need half duplex
      duplex: "half",
    });
    expect(chunked.status).toBe(413);
    expect((await fetch(`${rt.url}/files/big.bin`)).status).toBe(404);
  });

  test("a route that declares no limit (the download form) takes the default 1 MiB", async () => {
    const form = new URLSearchParams({ name: "x".repeat(MiB + 10) });
    const res = await fetch(`${rt.url}/download`, { method: "POST", body: form });
    expect(res.status).toBe(413);
    expect((await res.json()).error).toContain(`over the limit of ${MiB} bytes`);
  });
});
