// Every Grafana panel reads something a recording rule produces: Flux panels name a measurement
// (= rule name, as the remote-write function stores it) in the bucket its prefix is written to;
// PromQL panels name recorded series only. Datasource uids match the provisioned datasources.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";

const DEPLOY = join(REPO_ROOT, "deploy");
// parsed JSON / YAML is free-form
// deno-lint-ignore no-explicit-any
type Any = any;

function recordedNames(): Set<string> {
  const names = new Set<string>();
  const dir = join(DEPLOY, "prometheus", "rules");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".rules.yml"))) {
    const doc = Bun.YAML.parse(readFileSync(join(dir, file), "utf8")) as Any;
    for (const group of doc.groups) for (const rule of group.rules) if (rule.record) names.add(rule.record);
  }
  return names;
}

const BUCKET_OF_PREFIX: Record<string, string> = { "job_container:": "containers", "job_instance:": "vms" };

const PROMQL_WORDS = new Set([
  "sum",
  "avg",
  "min",
  "max",
  "count",
  "rate",
  "irate",
  "increase",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "histogram_quantile",
  "topk",
  "bottomk",
  "offset",
  "label_replace",
  "clamp_min",
  "clamp_max",
  "abs",
  "vector",
  "scalar",
  "time",
  "bool",
]);

/** Metric names in a PromQL expression (strings, label matchers and grouping lists removed). */
function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "")
    .replace(/\[[^\]]*\]/g, "");
  const names: string[] = [];
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    const after = stripped.slice((match.index ?? 0) + word.length).trimStart();
    if (PROMQL_WORDS.has(word) || after.startsWith("(")) continue;
    names.push(word);
  }
  return names;
}

function dashboards(): { file: string; dash: Any }[] {
  const dir = join(DEPLOY, "grafana", "dashboards");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => ({ file, dash: JSON.parse(readFileSync(join(dir, file), "utf8")) }));
}

test("the three dashboards exist with the old 4 panels for VMs and Containers", () => {
  const byTitle = Object.fromEntries(dashboards().map(({ dash }) => [dash.title, dash]));
  expect(Object.keys(byTitle).sort()).toEqual(["Containers", "Functions", "VMs"]);
  expect(byTitle.VMs.panels.length).toBe(4);
  expect(byTitle.Containers.panels.length).toBe(4);
  const fnTitles = byTitle.Functions.panels.map((p: Any) => p.title).join(" | ");
  for (const word of ["rate", "Error", "Latency", "Bytes", "replicas", "versions"]) expect(fnTitles).toContain(word);
});

test("every panel query names a measurement some recording rule produces", () => {
  const recorded = recordedNames();
  const provisioned = Bun.YAML.parse(
    readFileSync(join(DEPLOY, "grafana", "provisioning", "datasources", "datasources.yml"), "utf8"),
  ) as Any;
  const datasources = new Map<string, Any>(provisioned.datasources.map((d: Any) => [d.uid, d]));
  const problems: string[] = [];
  let checked = 0;
  for (const { file, dash } of dashboards()) {
    for (const panel of dash.panels) {
      const where = `${file}: "${panel.title}"`;
      expect(panel.targets.length).toBeGreaterThan(0);
      for (const target of panel.targets) {
        const ds = datasources.get(target.datasource?.uid ?? panel.datasource?.uid);
        if (!ds) {
          problems.push(`${where}: unknown datasource ${JSON.stringify(target.datasource ?? panel.datasource)}`);
          continue;
        }
        if (ds.type === "influxdb") {
          const query = String(target.query ?? "");
          const measurements = [...query.matchAll(/r\._measurement\s*==\s*"([^"]+)"/g)].map((m) => m[1]!);
          const bucket = /from\(bucket:\s*"([^"]+)"\)/.exec(query)?.[1];
          if (measurements.length === 0) problems.push(`${where}: Flux query names no measurement`);
          if (!/r\._field\s*==\s*"value"/.test(query)) {
            problems.push(`${where}: Flux query does not read field "value"`);
          }
          for (const m of measurements) {
            checked += 1;
            if (!recorded.has(m)) problems.push(`${where}: measurement ${m} is produced by no rule`);
            const prefix = Object.keys(BUCKET_OF_PREFIX).find((p) => m.startsWith(p));
            if (!prefix) problems.push(`${where}: ${m} is not remote-written (no job_container:/job_instance: prefix)`);
            else if (bucket !== BUCKET_OF_PREFIX[prefix] || ds.jsonData.defaultBucket !== bucket) {
              problems.push(
                `${where}: ${m} lives in bucket ${BUCKET_OF_PREFIX[prefix]}, query reads ${bucket} via ${ds.uid}`,
              );
            }
          }
        } else if (ds.type === "prometheus") {
          const names = promqlMetricNames(String(target.expr ?? ""));
          if (names.length === 0) problems.push(`${where}: PromQL names no series`);
          for (const name of names) {
            checked += 1;
            if (!recorded.has(name)) problems.push(`${where}: ${name} is produced by no rule`);
          }
        } else {
          problems.push(`${where}: unexpected datasource type ${ds.type}`);
        }
      }
    }
  }
  expect(problems).toEqual([]);
  expect(checked).toBeGreaterThanOrEqual(16);
});

test("the PromQL name extraction sees raw metrics (so the check above can fail)", () => {
  expect(promqlMetricNames('sum by (service) (rate(tarsd_function_requests_total{status=~"5.."}[5m]))')).toEqual([
    "tarsd_function_requests_total",
  ]);
  expect(promqlMetricNames("service:tarsd_replicas_ready:count")).toEqual(["service:tarsd_replicas_ready:count"]);
});

test("datasources: Prometheus and one Flux datasource per bucket, tokens from the environment (secrets)", () => {
  const provisioned = Bun.YAML.parse(
    readFileSync(join(DEPLOY, "grafana", "provisioning", "datasources", "datasources.yml"), "utf8"),
  ) as Any;
  const summary = provisioned.datasources.map((
    d: Any,
  ) => [d.type, d.jsonData?.version ?? "", d.jsonData?.defaultBucket ?? "", d.secureJsonData?.token ?? ""]);
  expect(summary).toEqual([
    ["prometheus", "", "", ""],
    ["influxdb", "Flux", "containers", "$INFLUX_CONTAINERS_TOKEN"],
    ["influxdb", "Flux", "vms", "$INFLUX_VMS_TOKEN"],
  ]);
});
