// Runs a provisioned dashboard panel's queries the way Grafana 11 does, against real servers:
//   - Flux (InfluxDB datasources): Grafana's backend replaces `<x>.timeRangeStart` / `<x>.timeRangeStop`
//     with RFC 3339 times, `<x>.windowPeriod` with the query interval as Go prints a duration, and
//     `<x>.bucket` / `<x>.defaultBucket` / `<x>.organization` with quoted strings from the datasource
//     (pkg/tsdb/influxdb/flux/macros.go), then `$__interval_ms` and `$__interval`.
//   - PromQL (Prometheus datasource): /api/v1/query_range with step = the query interval.
//   - The interval: the time range over the panel's max data points, but never below the panel's
//     `interval` or the datasource's `timeInterval` (both "15s" here), as Grafana computes it.
// A dashboard variable ($name) left in a query fails: Grafana would have substituted it.
import type { FluxRow, InfluxDb } from "../../harness/influxdb.ts";

export interface TimeRange {
  fromMs: number;
  toMs: number;
}

export interface Datasource {
  uid: string;
  type: "influxdb" | "prometheus";
  url: string;
  jsonData?: { defaultBucket?: string; organization?: string; timeInterval?: string };
}

export interface PanelTarget {
  refId: string;
  query?: string;
  expr?: string;
  legendFormat?: string;
}

export interface Panel {
  title: string;
  type: string;
  datasource: { uid: string; type: string };
  gridPos: { x: number; y: number; w: number; h: number };
  maxDataPoints?: number;
  interval?: string;
  fieldConfig?: { defaults?: { unit?: string } };
  targets: PanelTarget[];
}

/** One line of a panel: its legend name, its labels (tags) and its points. */
export interface PanelSeries {
  name: string;
  labels: Record<string, string>;
  points: [number, number][];
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function durationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return Number(match[1]) * UNITS[match[2]!]!;
}

/** A duration as Go's time.Duration.String() prints it (what Grafana puts for v.windowPeriod). */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

export function queryIntervalMs(panel: Panel, datasource: Datasource, range: TimeRange): number {
  const floor = durationMs(panel.interval ?? datasource.jsonData?.timeInterval ?? "15s");
  return Math.max(floor, Math.ceil((range.toMs - range.fromMs) / (panel.maxDataPoints ?? 1000)));
}

export function interpolateFlux(query: string, datasource: Datasource, range: TimeRange, intervalMs: number): string {
  const quoted = (value: string | undefined) => JSON.stringify(value ?? "");
  let flux = query.replace(/([a-zA-Z]+)\.([a-zA-Z]+)/g, (whole, _object: string, name: string) => {
    switch (name) {
      case "timeRangeStart":
        return new Date(range.fromMs).toISOString();
      case "timeRangeStop":
        return new Date(range.toMs).toISOString();
      case "windowPeriod":
        return goDuration(intervalMs);
      case "bucket":
      case "defaultBucket":
        return quoted(datasource.jsonData?.defaultBucket);
      case "organization":
        return quoted(datasource.jsonData?.organization);
      default:
        return whole;
    }
  });
  flux = flux.replaceAll("$__interval_ms", String(intervalMs)).replaceAll("$__interval", goDuration(intervalMs));
  const variable = /\$\{?[A-Za-z_]\w*/.exec(flux);
  if (variable) throw new Error(`dashboard variable ${variable[0]} is not substituted here: ${query}`);
  return flux;
}

/** Flux rows as series: one per table of the answer, named by its group columns. */
export function fluxSeries(rows: FluxRow[], groupColumns: string[]): PanelSeries[] {
  const tables = new Map<string, PanelSeries>();
  for (const row of rows) {
    let series = tables.get(`${row.result}/${row.table}`);
    if (!series) {
      const labels = Object.fromEntries(groupColumns.map((c) => [c, row[c] ?? ""]));
      series = {
        name: groupColumns.map((c) => row[c]).filter(Boolean).join(" ") || "value",
        labels,
        points: [],
      };
      tables.set(`${row.result}/${row.table}`, series);
    }
    series.points.push([Date.parse(row._time!), Number(row._value)]);
  }
  return [...tables.values()];
}

/** The columns of the query's last `group(columns: [...])`: what a Flux panel's series are keyed by. */
export function groupColumns(flux: string): string[] {
  const groups = [...flux.matchAll(/group\(columns:\s*\[([^\]]*)\]/g)];
  const last = groups.at(-1)?.[1];
  return last ? [...last.matchAll(/"([^"]+)"/g)].map((m) => m[1]!) : [];
}

export function legend(format: string | undefined, labels: Record<string, string>): string {
  if (!format) return JSON.stringify(labels);
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => labels[name] ?? "").trim();
}

export interface Servers {
  influx: Record<string, InfluxDb>;
  prometheusUrl: string;
}

/** Every series of every target of `panel`, queried as Grafana queries it. */
export async function runPanel(
  panel: Panel,
  datasources: Map<string, Datasource>,
  servers: Servers,
  range: TimeRange,
): Promise<PanelSeries[]> {
  const datasource = datasources.get(panel.datasource.uid);
  if (!datasource) throw new Error(`panel "${panel.title}": no provisioned datasource ${panel.datasource.uid}`);
  const intervalMs = queryIntervalMs(panel, datasource, range);
  const series: PanelSeries[] = [];
  for (const target of panel.targets) {
    if (datasource.type === "influxdb") {
      const influx = servers.influx[datasource.uid];
      if (!influx) throw new Error(`no InfluxDB for datasource ${datasource.uid}`);
      const flux = interpolateFlux(target.query ?? "", datasource, range, intervalMs);
      series.push(...fluxSeries(await influx.flux(flux), groupColumns(flux)));
    } else {
      const params = new URLSearchParams({
        query: target.expr ?? "",
        start: String(range.fromMs / 1000),
        end: String(range.toMs / 1000),
        step: String(intervalMs / 1000),
      });
      const res = await fetch(`${servers.prometheusUrl}/api/v1/query_range?${params}`);
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: { result: { metric: Record<string, string>; values: [number, string][] }[] };
      };
      if (body.status !== "success") throw new Error(`panel "${panel.title}" ${target.expr}: ${body.error}`);
      for (const result of body.data!.result) {
        series.push({
          name: legend(target.legendFormat, result.metric),
          labels: result.metric,
          points: result.values.map(([t, v]) => [t * 1000, Number(v)]),
        });
      }
    }
  }
  return series;
}
