// /readyz asks every function whether it can serve, and bounds how long it waits: a function whose
// storage hangs (an NFS server gone) makes the replica answer 503 with the reason, in time, instead
// of making /readyz hang with it; and the hung check is not started again while it hangs. (The file
// functions' own check, a store gone, is tests/files/file-service.test.ts's.)
import { expect, test } from "bun:test";
import { buildApp } from "../../runtime/app.ts";
import { loadConfig } from "../../runtime/config.ts";
import { defineFunction } from "@tarsd/sdk";
import type { LoadedFunction } from "../../runtime/loader.ts";
import { readinessChecks } from "../../runtime/readiness.ts";
import { HostMetrics } from "../../runtime/metrics.ts";
import { Registry } from "prom-client";

const fn = (name: string, ready?: () => Promise<void>): LoadedFunction => ({
  name,
  file: `${name}.ts`,
  sha256: "0".repeat(64),
  module: defineFunction({
    ready,
    routes: [{ method: "GET", path: `/${name}`, summary: name, handler: () => new Response("ok") }],
  }),
});

test("every function ready: empty; one throwing: its reason; a function without a check is ready", async () => {
  const checks = readinessChecks([
    fn("a"),
    fn("b", async () => {}),
    fn("c", () => Promise.reject(new Error("disk gone"))),
  ], 1000);
  expect(await checks()).toEqual({ c: "disk gone" });
});

test("a check that hangs counts as not ready once the timeout passes, and is not started again while it hangs", async () => {
  let started = 0;
  let release: (() => void) | undefined;
  const hanging = fn("files", () => {
    started++;
    // hangs until released; once released, later checks answer at once
    return release === undefined ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
  });
  const checks = readinessChecks([hanging, fn("other")], 50);
  expect(await checks()).toEqual({ files: "its readiness check did not answer within 50 ms" });
  expect(await checks()).toEqual({ files: "its readiness check did not answer within 50 ms" });
  expect(started).toBe(1);
  release!();
  expect(await checks()).toEqual({}); // the hung check itself answered
  expect(started).toBe(1);
  expect(await checks()).toEqual({}); // a new one
  expect(started).toBe(2);
});

test("GET /readyz: 200 when ready, 503 with each function's reason when not, 503 draining when draining", async () => {
  let healthy = true;
  const store = fn("files", () => (healthy ? Promise.resolve() : new Promise<void>(() => {})));
  const state = { ready: true, inFlight: 0 };
  const app = buildApp(
    { ...loadConfig(), readyTimeoutMs: 50, logRequests: false },
    [store],
    state,
    new HostMetrics(new Registry()),
  );
  const readyz = async () => {
    const res = await app.handle(new Request("http://localhost/readyz"));
    return { status: res.status, body: await res.json() };
  };
  expect(await readyz()).toEqual({ status: 200, body: { status: "ready" } });
  healthy = false;
  expect(await readyz()).toEqual({
    status: 503,
    body: { status: "unavailable", functions: { files: "its readiness check did not answer within 50 ms" } },
  });
  state.ready = false;
  expect(await readyz()).toEqual({ status: 503, body: { status: "draining" } });
});
