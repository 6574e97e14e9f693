// Alerting end to end, on this machine: the stack's own alert rules in a real Prometheus (Debian's 2.42)
// scraping a real node-exporter, a real Alertmanager (Debian's 0.25, standing in for the prom/alertmanager
// image) with deploy's own configuration rendered for a webhook receiver, exactly as deploy/stack-deploy
// renders it (deploy/alertmanager/render-config, TARSD_ALERT_WEBHOOK_URL), a webhook this test serves, and
// a runtime replica with ALERTMANAGER_URL whose /alerts and status page show what fires. node-exporter is
// stopped: NodeDown reaches the webhook, /alerts and the page; it is started again on the same port: the
// webhook is told it resolved, and /alerts and the page no longer list it.
//
// What differs from the stack, all timings, so that a 2-minute alert takes seconds:
//   - Prometheus scrapes and evaluates every 1 s (the stack: 15 s), and every alert's `for:` is 2 s
//     (NodeDown's is 2m): harness/pipeline.ts withRuleTimings; expressions, labels, annotations unchanged.
//   - Alertmanager's route waits 1 s for a group's first notification (group_wait, the stack: 30s) and
//     1 s before notifying a change of it, its resolution among them (group_interval, the stack: 5m):
//     harness/alertmanager.ts withNotificationTimings on the rendered file; receivers, grouping unchanged.
//   - Prometheus sends to the test's Alertmanager by address (prometheusConfig's `alertmanagers`), where
//     deploy's prometheus.yml names the service, alertmanager:9093.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { applyNotificationTimings, renderAlertmanagerConfig, startAlertmanager } from "../../harness/alertmanager.ts";
import { type Browser, launchBrowser, statusPageAlerts } from "../../harness/browser.ts";
import type { Child } from "../../harness/child-process.ts";
import { hostPort, ruleFiles, startNodeExporter, startPrometheus, withRuleTimings } from "../../harness/pipeline.ts";
import { type RuntimeProcess, startRuntime, tempDir } from "../../harness/runtime-process.ts";
import type { FiringAlert } from "../../runtime/alerts.ts";

const ARTIFACTS = join(REPO_ROOT, ".artifacts");

/** The JSON Alertmanager's webhook notifier posts (version 4). */
interface Notification {
  receiver: string;
  status: "firing" | "resolved";
  alerts: {
    status: "firing" | "resolved";
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string;
  }[];
  groupLabels: Record<string, string>;
}

/** Polls `check` until it returns something other than undefined; fails with `context()` after `timeoutMs`. */
async function eventually<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined> | T | undefined,
  context: () => Promise<string> | string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${await context()}`);
    await Bun.sleep(200);
  }
}

describe("alerting: NodeDown from the stack's rules through a real Alertmanager to a webhook, /alerts and the status page", () => {
  const dir = tempDir("tarsd-alerting-");
  const notifications: Notification[] = [];
  let webhook: ReturnType<typeof Bun.serve> | undefined;
  let alertmanager: (Child & { dataDir: string }) | undefined;
  let node: Child | undefined;
  let nodePort = 0;
  let runtime: RuntimeProcess | undefined;
  let prometheus: (Child & { dataDir: string }) | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;

  const instance = () => `127.0.0.1:${nodePort}`;
  const firing = async (): Promise<{ status: number; body: { configured: boolean; alerts: FiringAlert[] } }> => {
    const res = await fetch(`${runtime!.url}/alerts`);
    return { status: res.status, body: await res.json() };
  };
  const nodeDownNotifications = (status: "firing" | "resolved") =>
    notifications.flatMap((n) =>
      n.alerts.filter((a) => a.status === status && a.labels.alertname === "NodeDown").map((alert) => ({ n, alert }))
    );
  /** What each side saw, for a failure's message. */
  const state = async () => {
    const ask = async (url: string) => {
      try {
        return await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text();
      } catch (err) {
        return String(err);
      }
    };
    return [
      `prometheus alerts: ${await ask(`${prometheus?.url}/api/v1/alerts`)}`,
      `prometheus alertmanagers: ${await ask(`${prometheus?.url}/api/v1/alertmanagers`)}`,
      `alertmanager: ${await ask(`${alertmanager?.url}/api/v2/alerts`)}`,
      `webhook: ${JSON.stringify(notifications)}`,
      `alertmanager log: ${alertmanager?.logs().slice(-3000)}`,
    ].join("\n");
  };

  beforeAll(async () => {
    webhook = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(request) {
        if (request.method !== "POST" || new URL(request.url).pathname !== "/hook") {
          return new Response("not found", { status: 404 });
        }
        notifications.push(await request.json());
        return new Response(null, { status: 204 });
      },
    });
    // deploy's configuration as the deploy renders it for a webhook, then the test's timings (above).
    const config = renderAlertmanagerConfig(join(dir, "alertmanager.yml"), {
      TARSD_ALERT_WEBHOOK_URL: `http://127.0.0.1:${webhook.port}/hook`,
    });
    applyNotificationTimings(config, { groupWait: "1s", groupInterval: "1s" });
    alertmanager = await startAlertmanager(config);
    node = await startNodeExporter();
    nodePort = node.port;
    runtime = await startRuntime({ FUNCTIONS: "upload,download", ALERTMANAGER_URL: alertmanager.url });
    prometheus = await startPrometheus({
      nodeExporters: [hostPort(node.url)],
      // the replica as swarm discovery labels APP 1's, so the function alerts see a files service
      functions: { tarsd_files: [hostPort(runtime.url)] },
      remoteWrites: [],
      rules: withRuleTimings(ruleFiles(), { interval: "1s", alertFor: "2s" }, join(dir, "rules")),
      alertmanagers: [hostPort(alertmanager.url)],
    });
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    for (const child of [prometheus, runtime, node, alertmanager]) await child?.stop().catch(() => undefined);
    await webhook?.stop(true);
    for (const path of [dir, alertmanager?.dataDir, prometheus?.dataDir]) {
      if (path) rmSync(path, { recursive: true, force: true });
    }
  });

  test("before: Prometheus sends to Alertmanager, node-exporter is up, NodeDown fires nowhere", async () => {
    await eventually("Prometheus knows the Alertmanager", 30_000, async () => {
      const body = await (await fetch(`${prometheus!.url}/api/v1/alertmanagers`)).json();
      return body.data.activeAlertmanagers.some((a: { url: string }) => a.url.startsWith(alertmanager!.url))
        ? true
        : undefined;
    }, state);
    await eventually("node-exporter scraped", 30_000, async () => {
      const q = new URLSearchParams({ query: `up{job="node",instance="${instance()}"}` });
      const body = await (await fetch(`${prometheus!.url}/api/v1/query?${q}`)).json();
      return body.data.result[0]?.value[1] === "1" ? true : undefined;
    }, state);
    const now = await firing();
    expect(now.status).toBe(200);
    expect(now.body.configured).toBe(true);
    expect(now.body.alerts.filter((a) => a.name === "NodeDown")).toEqual([]);
    expect(nodeDownNotifications("firing")).toEqual([]);

    page = await browser!.context.newPage();
    await page.goto(`${runtime!.url}/status.html?interval=500`);
    await page.waitForFunction(() =>
      ["none", "firing"].includes(document.getElementById("alerts-section")!.dataset.state!)
    );
    expect((await statusPageAlerts(page)).rows.filter((r) => r.name === "NodeDown")).toEqual([]);
  }, 60_000);

  test("node-exporter stopped: NodeDown reaches the webhook, /alerts and the status page", async () => {
    const stoppedAt = Date.now();
    await node!.stop();

    const { n, alert } = await eventually("a firing NodeDown at the webhook", 60_000, () => {
      return nodeDownNotifications("firing")[0];
    }, state);
    expect(n.receiver).toBe("operator");
    expect(n.groupLabels).toEqual({ alertname: "NodeDown", instance: instance() });
    expect(alert.labels).toEqual({ alertname: "NodeDown", severity: "critical", job: "node", instance: instance() });
    expect(alert.annotations.summary).toBe(`VM ${instance()} is down`);
    expect(Date.parse(alert.startsAt)).toBeGreaterThanOrEqual(stoppedAt - 1000);

    const listed = await eventually("NodeDown in /alerts", 30_000, async () => {
      const now = await firing();
      return now.body.alerts.find((a) => a.name === "NodeDown");
    }, state);
    expect(listed).toEqual({
      name: "NodeDown",
      severity: "critical",
      state: "active",
      startsAt: expect.any(String),
      summary: `VM ${instance()} is down`,
      description: `node-exporter on ${instance()} has not answered for 2 minutes.`,
      labels: { alertname: "NodeDown", severity: "critical", job: "node", instance: instance() },
    });
    expect(Date.parse(listed.startsAt)).toBe(Date.parse(alert.startsAt));

    await page!.locator('#alerts tr[data-alert="NodeDown"]').waitFor({ timeout: 30_000 });
    const shown = await statusPageAlerts(page!);
    expect(shown.state).toBe("firing");
    expect(shown.rows.filter((r) => r.name === "NodeDown")).toEqual([{
      name: "NodeDown",
      severity: "critical",
      summary: `VM ${instance()} is down`,
      description: `node-exporter on ${instance()} has not answered for 2 minutes.`,
      since: listed.startsAt,
    }]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page!.screenshot({ path: join(ARTIFACTS, "status-alerting-e2e.png"), fullPage: true });
  }, 120_000);

  test(
    "node-exporter back on the same port: the webhook is told NodeDown resolved, /alerts and the page drop it",
    async () => {
      node = await startNodeExporter({ port: nodePort });
      expect(node.port).toBe(nodePort);

      const { n, alert } = await eventually("a resolved NodeDown at the webhook", 60_000, () => {
        return nodeDownNotifications("resolved")[0];
      }, state);
      expect(n.status).toBe("resolved");
      expect(alert.labels).toEqual({ alertname: "NodeDown", severity: "critical", job: "node", instance: instance() });
      expect(Date.parse(alert.endsAt)).toBeGreaterThan(Date.parse(alert.startsAt));

      await eventually("NodeDown gone from /alerts", 30_000, async () => {
        const now = await firing();
        return now.status === 200 && !now.body.alerts.some((a) => a.name === "NodeDown") ? true : undefined;
      }, state);
      await page!.locator('#alerts tr[data-alert="NodeDown"]').waitFor({ state: "detached", timeout: 30_000 });
      expect((await statusPageAlerts(page!)).rows.filter((r) => r.name === "NodeDown")).toEqual([]);
    },
    120_000,
  );
});
