// The remote-write status table against a real InfluxDB's own answers (harness/influxdb.ts, auth on):
// what is ours to fix (a wrong token, a bucket that does not exist) is 503, so Prometheus keeps the
// samples and retries until someone fixes it; what is wrong with the data (a field type conflict) is
// 400, so Prometheus drops that batch instead of retrying it forever. Each through the real runtime,
// with the spool off (REMOTE_WRITE_SPOOL_MAX_BYTES=0) so InfluxDB's own answer is what is answered;
// with it on, what InfluxDB cannot take now is spooled instead (last test; tests/remote-write/spool*).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type InfluxDb, startInfluxDb } from "../../harness/influxdb.ts";
import { influxRaw, scrapeValue } from "../../harness/pipeline.ts";
import { type TestSeries, writeRequest } from "../../harness/remote-write-requests.ts";
import { type RuntimeProcess, startRuntime } from "../../harness/runtime-process.ts";

let influx: InfluxDb;
const apps: RuntimeProcess[] = [];

beforeAll(async () => {
  influx = await startInfluxDb({ databases: ["vms"], auth: true });
}, 60_000);
afterAll(async () => {
  await Promise.all(apps.map((app) => app.stop()));
  await influx?.stop();
}, 30_000);

/** APP 3 as deployed, writing to the real InfluxDB with `token` into `bucket`; the spool off unless `spool`. */
async function app(bucket: string, token: string, spool = false): Promise<RuntimeProcess> {
  const runtime = await startRuntime({
    FUNCTIONS: "remote-write",
    INFLUX_URL: influx.url,
    INFLUX_ORG: "tarsd",
    INFLUX_BUCKET: bucket,
    INFLUX_TOKEN: token,
    LOG_REQUESTS: "0",
    ...(spool ? {} : { REMOTE_WRITE_SPOOL_MAX_BYTES: "0" }),
  });
  apps.push(runtime);
  return runtime;
}

const at = Date.now() - 60_000;
const series = (name: string, value: number): TestSeries => ({
  labels: [["__name__", name], ["instance", "vm1:9100"], ["job", "node"]],
  samples: [{ value, timestamp: at }],
});

test("the right token: 204, and the sample is in InfluxDB", async () => {
  const runtime = await app("vms", influx.token!);
  const res = await fetch(writeRequest(`${runtime.url}/api/v1/write`, [series("answers_ok", 1.5)]));
  expect(res.status).toBe(204);
  const stored = await influxRaw(influx, "vms", /^answers_ok$/, at - 1000, at + 1000);
  expect(stored.map((s) => s.samples)).toEqual([[[at, 1.5]]]);
});

test("a wrong InfluxDB token (InfluxDB: 401) is 503 with Retry-After: ours to fix, Prometheus retries", async () => {
  const runtime = await app("vms", "tarsd:not-the-password");
  const res = await fetch(writeRequest(`${runtime.url}/api/v1/write`, [series("answers_token", 1)]));
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe("1");
  expect((await res.json()).error).toContain("InfluxDB answered 401");
  expect(await scrapeValue(runtime.url, "tarsd_influx_write_errors_total", { kind: "config" })).toBe(1);
});

test("a bucket that does not exist (InfluxDB: 404) is 503: ours to fix", async () => {
  const runtime = await app("no_such_bucket", influx.token!);
  const res = await fetch(writeRequest(`${runtime.url}/api/v1/write`, [series("answers_bucket", 1)]));
  expect(res.status).toBe(503);
  expect((await res.json()).error).toMatch(/InfluxDB answered 404: .*database not found/);
  expect(await scrapeValue(runtime.url, "tarsd_influx_write_errors_total", { kind: "config" })).toBe(1);
});

test("a field type conflict (InfluxDB: 400) is 400 with InfluxDB's reason: the data, not worth retrying", async () => {
  // Someone else wrote this measurement's field `value` as a string first.
  const direct = await fetch(`${influx.url}/api/v2/write?bucket=vms&precision=ms`, {
    method: "POST",
    headers: { authorization: `Token ${influx.token}` },
    body: `answers_conflict,instance=vm1:9100,job=node value="text" ${at - 5000}\n`,
  });
  expect(direct.status).toBe(204);
  const runtime = await app("vms", influx.token!);
  const res = await fetch(
    writeRequest(`${runtime.url}/api/v1/write`, [series("answers_conflict", 2), series("answers_beside", 3)]),
  );
  expect(res.status).toBe(400);
  expect((await res.json()).error).toMatch(/InfluxDB answered 400: .*field type conflict/);
  expect(await scrapeValue(runtime.url, "tarsd_influx_write_errors_total", { kind: "rejected" })).toBe(1);
  // InfluxDB writes the other points of a batch it partly refuses: nothing beside the conflict is lost.
  const beside = await influxRaw(influx, "vms", /^answers_beside$/, at - 1000, at + 1000);
  expect(beside.map((s) => s.samples)).toEqual([[[at, 3]]]);
});

test("with the spool on, a wrong token is ours to fix: the write is spooled (204) and the failure counted", async () => {
  const runtime = await app("vms", "tarsd:not-the-password", true);
  const res = await fetch(writeRequest(`${runtime.url}/api/v1/write`, [series("answers_spooled", 4)]));
  expect(res.status).toBe(204);
  expect(await scrapeValue(runtime.url, "tarsd_influx_write_errors_total", { kind: "config" })).toBe(1);
  expect(await scrapeValue(runtime.url, "tarsd_remote_write_spooling")).toBe(1);
  expect(await scrapeValue(runtime.url, "tarsd_remote_write_spooled_requests_total")).toBe(1);
  expect(await scrapeValue(runtime.url, "tarsd_remote_write_spool_bytes")).toBeGreaterThan(0);
});
