// GET /alerts: the runtime passes on the firing alerts of the stack's Alertmanager (ALERTMANAGER_URL),
// trimmed and sorted, and says what went wrong when Alertmanager does not answer. Against a stand-in
// for Alertmanager's API here; against the real one in tests/monitoring/alerting.e2e.test.ts.
import { afterAll, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { join } from "node:path";
import { alertsHandler } from "../../runtime/alerts.ts";
import { buildApp } from "../../runtime/app.ts";
import { loadConfig, type RuntimeConfig } from "../../runtime/config.ts";
import { HostMetrics } from "../../runtime/metrics.ts";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { freePort } from "../../harness/ports.ts";

type Answer = { json: unknown } | { status: number } | { text: string } | "hang";
let answer: Answer = { json: [] };
const queries: string[] = [];
const alertmanager = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(request) {
    const url = new URL(request.url);
    queries.push(`${request.method} ${url.pathname}${url.search}`);
    if (answer === "hang") return await new Promise<Response>(() => {});
    if ("status" in answer) return new Response("internal error", { status: answer.status });
    if ("text" in answer) return new Response(answer.text, { headers: { "content-type": "application/json" } });
    return Response.json(answer.json);
  },
});
const AM_URL = `http://127.0.0.1:${alertmanager.port}`;
afterAll(() => alertmanager.stop(true));

function app(alertmanagerUrl: string | undefined) {
  const config: RuntimeConfig = { ...loadConfig(), alertmanagerUrl, logRequests: false };
  return buildApp(config, [], { ready: true, inFlight: 0 }, new HostMetrics(new Registry()));
}

async function get(alertmanagerUrl: string | undefined, method = "GET") {
  const res = await app(alertmanagerUrl).handle(new Request("http://localhost/alerts", { method }));
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const alert = (
  labels: Record<string, string>,
  startsAt: string,
  extra: Record<string, unknown> = {},
) => ({
  labels,
  annotations: { summary: `${labels.alertname} summary`, description: `${labels.alertname} description` },
  startsAt,
  endsAt: "2099-01-01T00:00:00Z",
  updatedAt: startsAt,
  fingerprint: labels.alertname,
  generatorURL: "http://prometheus:9090/graph",
  receivers: [{ name: "operator" }],
  status: { state: "active", silencedBy: [], inhibitedBy: [] },
  ...extra,
});

test("without ALERTMANAGER_URL: 200, not configured, no alerts; nothing is asked", async () => {
  const before = queries.length;
  const res = await get(undefined);
  expect(res).toMatchObject({ status: 200, body: { configured: false, alerts: [] } });
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(queries.length).toBe(before);
});

test("Alertmanager's active alerts, trimmed: critical first, then the oldest first; unknown severities last", async () => {
  answer = {
    json: [
      alert(
        { alertname: "DiskAlmostFull", severity: "warning", instance: "n1:9100", mountpoint: "/" },
        "2030-01-01T10:00:00Z",
      ),
      alert({ alertname: "Odd", instance: "x" }, "2029-01-01T00:00:00Z", { annotations: {} }),
      alert(
        { alertname: "NodeDown", severity: "critical", instance: "n2:9100", job: "node" },
        "2030-01-01T12:00:00.5Z",
        { status: { state: "unprocessed", silencedBy: [], inhibitedBy: [] } },
      ),
      alert({ alertname: "FunctionServiceDown", severity: "critical", service: "tarsd_files" }, "2030-01-01T11:00:00Z"),
    ],
  };
  const res = await get(AM_URL);
  expect(res.status).toBe(200);
  expect(res.body).toEqual({
    configured: true,
    alerts: [
      {
        name: "FunctionServiceDown",
        severity: "critical",
        state: "active",
        startsAt: "2030-01-01T11:00:00Z",
        summary: "FunctionServiceDown summary",
        description: "FunctionServiceDown description",
        labels: { alertname: "FunctionServiceDown", severity: "critical", service: "tarsd_files" },
      },
      {
        name: "NodeDown",
        severity: "critical",
        state: "unprocessed",
        startsAt: "2030-01-01T12:00:00.5Z",
        summary: "NodeDown summary",
        description: "NodeDown description",
        labels: { alertname: "NodeDown", severity: "critical", instance: "n2:9100", job: "node" },
      },
      {
        name: "DiskAlmostFull",
        severity: "warning",
        state: "active",
        startsAt: "2030-01-01T10:00:00Z",
        summary: "DiskAlmostFull summary",
        description: "DiskAlmostFull description",
        labels: { alertname: "DiskAlmostFull", severity: "warning", instance: "n1:9100", mountpoint: "/" },
      },
      {
        name: "Odd",
        severity: null,
        state: "active",
        startsAt: "2029-01-01T00:00:00Z",
        summary: null,
        description: null,
        labels: { alertname: "Odd", instance: "x" },
      },
    ],
  });
  expect(res.headers.get("cache-control")).toBe("no-store");
  // Only active alerts, neither silenced nor inhibited: Alertmanager filters, the runtime trusts it.
  expect(queries.at(-1)).toBe("GET /api/v2/alerts?active=true&silenced=false&inhibited=false");
});

test("none firing: configured, an empty list", async () => {
  answer = { json: [] };
  expect(await get(AM_URL)).toMatchObject({ status: 200, body: { configured: true, alerts: [] } });
});

test("Alertmanager answering an error, or not a list of alerts, or not JSON: 502 with the reason", async () => {
  answer = { status: 500 };
  expect(await get(AM_URL)).toMatchObject({
    status: 502,
    body: { error: "Alertmanager answered HTTP 500", status: 502 },
  });
  answer = { json: { alerts: [] } };
  expect(await get(AM_URL)).toMatchObject({
    status: 502,
    body: { error: "Alertmanager answered something other than a list of alerts", status: 502 },
  });
  answer = { text: "<html>a proxy's page</html>" };
  expect(await get(AM_URL)).toMatchObject({
    status: 502,
    body: { error: "Alertmanager answered something other than JSON", status: 502 },
  });
});

test("Alertmanager unreachable: 502 at once; hanging: 502 once the timeout passes", async () => {
  const nobody = `http://127.0.0.1:${await freePort()}`;
  const refused = await get(nobody);
  expect(refused.status).toBe(502);
  expect(refused.body.error).toMatch(/^Alertmanager is unreachable/);

  answer = "hang";
  const started = performance.now();
  const res = await alertsHandler(AM_URL, 300)();
  const ms = performance.now() - started;
  expect({ status: res.status, body: await res.json() }).toEqual({
    status: 502,
    body: { error: "Alertmanager did not answer within 300 ms", status: 502 },
  });
  expect(ms).toBeGreaterThanOrEqual(290);
  expect(ms).toBeLessThan(2000);
  answer = { json: [] };
});

test("GET only: another method is 405 with Allow", async () => {
  const res = await app(AM_URL).handle(new Request("http://localhost/alerts", { method: "POST" }));
  expect(res.status).toBe(405);
  expect(res.headers.get("allow")).toBe("GET");
});

test("ALERTMANAGER_URL: trailing slashes dropped; anything but an http(s) base URL stops start-up, naming it", () => {
  const previous = process.env.ALERTMANAGER_URL;
  try {
    process.env.ALERTMANAGER_URL = "http://alertmanager:9093/";
    expect(loadConfig().alertmanagerUrl).toBe("http://alertmanager:9093");
    process.env.ALERTMANAGER_URL = "";
    expect(loadConfig().alertmanagerUrl).toBeUndefined();
  } finally {
    if (previous === undefined) delete process.env.ALERTMANAGER_URL;
    else process.env.ALERTMANAGER_URL = previous;
  }
  for (const bad of ["alertmanager:9093", "ftp://alertmanager", "http://alertmanager:9093/?x=1"]) {
    const res = Bun.spawnSync(["bun", join(REPO_ROOT, "runtime", "main.ts")], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", PORT: "0", ALERTMANAGER_URL: bad },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    expect({ bad, code: res.exitCode, err: res.stderr.toString().trim() }).toEqual({
      bad,
      code: 1,
      err: `tf-tarsd: cannot start: ALERTMANAGER_URL must be an http:// or https:// base URL (no query), got ${
        JSON.stringify(bad)
      }`,
    });
  }
}, 60_000);
