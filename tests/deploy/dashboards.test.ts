// Every panel of every provisioned dashboard (deploy/grafana/dashboards/*.json) runs its query, as
// Grafana runs it (tests/deploy/grafana-queries.ts), against the data the real pipeline wrote: node-
// exporter and the cAdvisor stand-in -> Prometheus with deploy's rules -> APP 2 / APP 3 -> two real
// InfluxDB servers (the stack's two), and the Prometheus panels against that Prometheus. Each panel
// must return series with the columns it groups by and values that make sense for its unit; a panel
// without data fails and names itself. Each dashboard is then drawn from those results into
// .artifacts/dashboards/<uid>.html and .png, for a person to look at.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { REPO_ROOT, requireBinary } from "../../harness/binaries.ts";
import { type InfluxDb, startInfluxDb } from "../../harness/influxdb.ts";
import { type Pipeline, startPipeline } from "../../harness/pipeline.ts";
import { type RuntimeProcess, startRuntime, tempDir } from "../../harness/runtime-process.ts";
import { dashboardPage } from "./dashboard-page.ts";
import { type Datasource, type Panel, type PanelSeries, runPanel, type TimeRange } from "./grafana-queries.ts";

const DASHBOARDS_DIR = join(REPO_ROOT, "deploy", "grafana", "dashboards");
const DATASOURCES_FILE = join(REPO_ROOT, "deploy", "grafana", "provisioning", "datasources", "datasources.yml");
const ARTIFACTS = join(REPO_ROOT, ".artifacts", "dashboards");

interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
}

const dashboards: Dashboard[] = readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith(".json")).sort().map((f) =>
  JSON.parse(readFileSync(join(DASHBOARDS_DIR, f), "utf8")) as Dashboard
);
const datasources = new Map(
  (Bun.YAML.parse(readFileSync(DATASOURCES_FILE, "utf8")) as { datasources: Datasource[] }).datasources.map((
    d,
  ) => [d.uid, d]),
);

let influxContainers: InfluxDb;
let influxVms: InfluxDb;
let files: RuntimeProcess;
let pipeline: Pipeline;
let started = 0;
let traffic = true;

beforeAll(async () => {
  started = Date.now();
  influxContainers = await startInfluxDb({ databases: ["containers"] });
  influxVms = await startInfluxDb({ databases: ["vms"] });
  files = await startRuntime({ FUNCTIONS: "upload,download", LOG_REQUESTS: "0" });
  pipeline = await startPipeline({
    influx: { containers: influxContainers, vms: influxVms },
    ruleInterval: "1s",
    services: { tarsd_files: [files] },
  });
  // APP 1 traffic for the Functions and Containers dashboards, while the test runs (APP 2 / APP 3
  // get Prometheus' remote writes): an upload and a download every 250 ms.
  void (async () => {
    for (let i = 0; traffic; i++) {
      const form = new FormData();
      form.append("file", new File([`dashboard test ${i}\n`.repeat(100 + (i % 50) * 20)], `dash-${i % 20}.txt`));
      await fetch(`${files.url}/upload`, { method: "POST", body: form }).then((r) => r.arrayBuffer()).catch(() => {});
      const download = new FormData();
      download.append("name", `dash-${i % 20}.txt`);
      await fetch(`${files.url}/download`, { method: "POST", body: download }).then((r) => r.arrayBuffer()).catch(
        () => {},
      );
      await Bun.sleep(250);
    }
  })();
}, 120_000);

afterAll(async () => {
  traffic = false;
  await pipeline?.stop();
  await Promise.all([files?.stop(), influxContainers?.stop(), influxVms?.stop()]);
}, 30_000);

const servers = () => ({
  influx: { "influxdb-containers": influxContainers, "influxdb-vms": influxVms },
  prometheusUrl: pipeline.prom.url,
});

/** Panels that read 0 in a healthy pipeline: what the remote-write spool holds while InfluxDB keeps up. */
const ZERO_WHEN_HEALTHY = new Set(["Remote-write spool: bytes held"]);

/** Values a panel's unit allows on this machine. */
function plausible(panel: Panel, value: number): boolean {
  if (!Number.isFinite(value)) return false;
  switch (panel.fieldConfig?.defaults?.unit) {
    case "percent": // CPU: 100 is one full core
      return value >= 0 && value <= 100 * cpus().length;
    case "percentunit":
      return value >= 0 && value <= 1;
    case "bytes": // memory, or what a spool holds
      return (value > 0 || (value === 0 && ZERO_WHEN_HEALTHY.has(panel.title))) && value < totalmem();
    default: // rates, durations, counts
      return value >= 0;
  }
}

/** The labels each dashboard's series must carry, non-empty. */
const KEYED_BY: Record<string, string[]> = {
  "tarsd-vms": ["instance"],
  "tarsd-containers": ["container", "service"],
  "tarsd-functions": ["service"],
};

test("the dashboards are the three provisioned ones, on the provisioned datasources", () => {
  expect(dashboards.map((d) => d.uid)).toEqual(["tarsd-containers", "tarsd-functions", "tarsd-vms"]);
  for (const d of dashboards) {
    for (const panel of d.panels) {
      expect({ panel: panel.title, uid: datasources.has(panel.datasource.uid) }).toEqual({
        panel: panel.title,
        uid: true,
      });
    }
  }
});

test("every panel returns plausible data from the real pipeline; each dashboard is rendered", async () => {
  const results = new Map<Dashboard, { panel: Panel; series: PanelSeries[] }[]>();
  let range: TimeRange = { fromMs: started, toMs: Date.now() };
  // Until every panel has data (rate windows fill, remote write delivers) and a line of a few points
  // to draw (3 query intervals of 15 s), at most 120 s; then a panel without data fails.
  const deadline = Date.now() + 120_000;
  let empty: string[] = [];
  let short: string[] = [];
  do {
    if (empty.length + short.length > 0) await Bun.sleep(3000);
    range = { fromMs: started, toMs: Date.now() };
    [empty, short] = [[], []];
    for (const dashboard of dashboards) {
      const panels = [];
      for (const panel of dashboard.panels) {
        const series = await runPanel(panel, datasources, servers(), range);
        const where = `${dashboard.title} / ${panel.title}`;
        if (series.every((s) => s.points.length === 0)) empty.push(where);
        else if (panel.type !== "table" && series.every((s) => s.points.length < 3)) short.push(where);
        panels.push({ panel, series });
      }
      results.set(dashboard, panels);
    }
  } while (empty.length + short.length > 0 && Date.now() < deadline);
  expect({ panelsWithoutData: empty }).toEqual({ panelsWithoutData: [] });

  const summary: string[] = [];
  for (const [dashboard, panels] of results) {
    for (const { panel, series } of panels) {
      const unit = panel.fieldConfig?.defaults?.unit;
      const where = `${dashboard.title} / ${panel.title}`;
      for (const s of series) {
        for (const label of KEYED_BY[dashboard.uid] ?? []) {
          expect({ where, series: s.name, label, value: s.labels[label] || "(missing)" }).not.toMatchObject({
            value: "(missing)",
          });
        }
        const wrong = s.points.filter(([, v]) => !plausible(panel, v));
        expect({ where, series: s.name, unit, implausible: wrong.slice(0, 5) }).toEqual({
          where,
          series: s.name,
          unit,
          implausible: [],
        });
      }
      summary.push(
        `${where}: ${series.length} series, ${series.reduce((n, s) => n + s.points.length, 0)} points (${
          series.map((s) => s.name).join(", ")
        })`,
      );
    }
  }
  // What the dashboards must show of this setup.
  const seriesOf = (uid: string, title: string) =>
    results.get(dashboards.find((d) => d.uid === uid)!)!.find((p) => p.panel.title === title)!.series;
  expect(seriesOf("tarsd-containers", "Memory working set").map((s) => s.labels.container).sort()).toEqual([
    "tarsd_files.1.local",
    "tarsd_remote-write-containers.1.local",
    "tarsd_remote-write-vms.1.local",
  ]);
  expect(seriesOf("tarsd-functions", "Request rate").map((s) => s.name).sort()).toEqual([
    "tarsd_files download",
    "tarsd_files upload",
    "tarsd_remote-write-containers remote-write",
    "tarsd_remote-write-vms remote-write",
  ]);
  // The spool panels: one line per remote-write service (APP 1 has no spool).
  for (const title of ["Remote-write spool: bytes held", "Remote-write spool: oldest data age"]) {
    expect({ title, services: seriesOf("tarsd-functions", title).map((s) => s.labels.service).sort() }).toEqual({
      title,
      services: ["tarsd_remote-write-containers", "tarsd_remote-write-vms"],
    });
  }
  console.log(`dashboards:\n  ${summary.join("\n  ")}`);

  // Renderings, for a person: HTML from the results, and its screenshot in Debian's Chromium.
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  const profile = tempDir("tarsd-chromium-");
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: requireBinary("chromium"),
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    viewport: { width: 1640, height: 900 },
  });
  try {
    for (const [dashboard, panels] of results) {
      const html = join(ARTIFACTS, `${dashboard.uid}.html`);
      writeFileSync(html, dashboardPage(dashboard, panels, range));
      const page = await browser.newPage();
      await page.goto(`file://${html}`);
      await page.screenshot({ path: join(ARTIFACTS, `${dashboard.uid}.png`), fullPage: true });
      // The picture shows every panel drawn, none empty.
      expect(await page.locator("section").count()).toBe(panels.length);
      expect(await page.locator(".empty").count()).toBe(0);
      expect(await page.locator("section svg polyline, section table").count()).toBeGreaterThanOrEqual(panels.length);
      await page.close();
    }
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
  expect(readdirSync(ARTIFACTS).sort()).toEqual(
    dashboards.flatMap((d) => [`${d.uid}.html`, `${d.uid}.png`]).sort(),
  );
}, 240_000);
