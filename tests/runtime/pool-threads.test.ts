// The runtime's file calls run on Bun's pool threads, as many as UV_THREADPOOL_SIZE says when the
// process starts (deploy/Dockerfile sets it: uploads wait on the disk in it). Every way the runtime is
// started must give it the image's value, and this Bun must honour it: with the default two threads,
// uploads queue behind each other's fsyncs.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { POOL_THREADS, startRuntime } from "../../harness/runtime-process.ts";

const DEFAULT_POOL_THREADS = 2;

/** Threads of process `pid` that Bun names as its pool's ("Bun Pool 0", ...). */
function poolThreads(pid: number): number {
  return readdirSync(`/proc/${pid}/task`)
    .filter((task) => readFileSync(`/proc/${pid}/task/${task}/comm`, "utf8").startsWith("Bun Pool")).length;
}

test("the image, package.json's start script and the test harness give the runtime the same pool size", () => {
  const start = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts.start as string;
  expect(start).toBe(`UV_THREADPOOL_SIZE=\${UV_THREADPOOL_SIZE:-${POOL_THREADS}} bun runtime/main.ts`);
  expect(Number(POOL_THREADS)).toBeGreaterThan(DEFAULT_POOL_THREADS);
});

test("under concurrent uploads the runtime runs more pool threads than Bun's default", async () => {
  const runtime = await startRuntime({ FUNCTIONS: "upload" });
  try {
    const uploads = Array.from({ length: 24 }, (_, i) => {
      const form = new FormData();
      form.append("file", new File([crypto.getRandomValues(new Uint8Array(256 * 1024))], `f${i}.bin`));
      return fetch(`${runtime.url}/upload`, { method: "POST", body: form });
    });
    for (const response of await Promise.all(uploads)) expect(response.status).toBe(201);
    const threads = poolThreads(runtime.proc.pid);
    expect(threads).toBeGreaterThan(DEFAULT_POOL_THREADS);
    expect(threads).toBeLessThanOrEqual(Number(POOL_THREADS));
  } finally {
    await runtime.stop();
  }
});
