// The function as deployed: `bun runtime/main.ts` with FUNCTIONS=remote-write and no INFLUX_URL,
// i.e. the embedded default of `bun run start`: samples land fsynced in $DATA_DIR/metrics/<bucket>.lp.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
// deno-lint-ignore no-sloppy-imports -- plain JS, typed by web/prom.d.ts
import { parseMetrics, select } from "../../web/prom.js";
import { type RuntimeProcess, startRuntime } from "../../harness/runtime-process.ts";
import { STALE, writeRequest } from "../../harness/remote-write-requests.ts";

let app: RuntimeProcess;
beforeAll(async () => {
  app = await startRuntime({ FUNCTIONS: "remote-write", INFLUX_BUCKET: "vms", REMOTE_WRITE_TOKEN: "t0ken" });
}, 30_000);
afterAll(async () => void (await app?.stop()));

const series = [{
  labels: [["__name__", "job_instance:node_memory_used:bytes"], ["instance", "vm1:9100"], ["job", "node"]] as [
    string,
    string,
  ][],
  samples: [{ value: 1024, timestamp: 1_700_000_000_000 }, { value: STALE, timestamp: 1_700_000_001_000 }],
}];

test("embedded default: 1.0 on /api/v1/write and the old /api/v1/prom/write path, 2.0 with written headers", async () => {
  const auth = { authorization: "Bearer t0ken" };
  const r1 = await fetch(writeRequest(`${app.url}/api/v1/write`, series, { headers: auth }));
  expect(r1.status).toBe(204);
  const r2 = await fetch(writeRequest(`${app.url}/api/v1/prom/write`, series, { headers: auth }));
  expect(r2.status).toBe(204);
  const r3 = await fetch(writeRequest(`${app.url}/api/v1/write`, series, { version: 2, headers: auth }));
  expect(r3.status).toBe(204);
  expect(r3.headers.get("x-prometheus-remote-write-samples-written")).toBe("2");
  const r4 = await fetch(writeRequest(`${app.url}/api/v1/write`, series));
  expect(r4.status).toBe(401);

  const line = "job_instance:node_memory_used:bytes,instance=vm1:9100,job=node value=1024 1700000000000";
  // The 2.0 request also carried the series' metadata (type and help): stored next to it.
  const metadata =
    'prometheus_metadata,metric=job_instance:node_memory_used:bytes help="help text",type="gauge" 1700000001000';
  expect(readFileSync(join(app.dataDir, "metrics", "vms.lp"), "utf8")).toBe(`${line}\n${line}\n${line}\n${metadata}\n`);

  const metrics = parseMetrics(await (await fetch(`${app.url}/metrics`)).text());
  const value = (name: string, labels: Record<string, string> = {}) => select(metrics, name, labels)[0]?.value;
  expect(value("tarsd_remote_write_requests_total", { status: "204" })).toBe(3);
  expect(value("tarsd_remote_write_requests_total", { status: "401" })).toBe(1); // refused by the contract, still counted
  expect(value("tarsd_remote_write_samples_dropped_total", { reason: "stale" })).toBe(3);
  expect(value("tarsd_remote_write_samples_written_total")).toBe(3);
});
