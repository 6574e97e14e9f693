// A dashboard drawn without Grafana: one self-contained HTML page laid out on Grafana's 24-column grid
// (each panel at its gridPos), every panel's series plotted as SVG lines from the query results, with
// the panel's unit on the axis. For a person to look at (the test screenshots it with Chromium).
import type { Panel, PanelSeries } from "./grafana-queries.ts";

const COLORS = ["#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0"];
const ROW_PX = 36; // Grafana: one grid row is 30 px plus the margin
const WIDTH_PX = 1600;

const escape = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

export function formatValue(value: number, unit: string | undefined): string {
  const scaled = (v: number, steps: string[], base: number) => {
    let i = 0;
    while (Math.abs(v) >= base && i < steps.length - 1) {
      v /= base;
      i++;
    }
    return `${Number(v.toPrecision(3))} ${steps[i]}`;
  };
  switch (unit) {
    case "percent":
      return `${Number(value.toPrecision(3))}%`;
    case "percentunit":
      return `${Number((value * 100).toPrecision(3))}%`;
    case "bytes":
      return scaled(value, ["B", "KiB", "MiB", "GiB", "TiB"], 1024);
    case "Bps":
      return scaled(value, ["B/s", "kB/s", "MB/s", "GB/s"], 1000);
    case "reqps":
      return `${Number(value.toPrecision(3))} req/s`;
    case "s":
      return value < 1 ? `${Number((value * 1000).toPrecision(3))} ms` : `${Number(value.toPrecision(3))} s`;
    default:
      return String(Number(value.toPrecision(4)));
  }
}

function chart(panel: Panel, series: PanelSeries[], width: number, height: number): string {
  const unit = panel.fieldConfig?.defaults?.unit;
  const points = series.flatMap((s) => s.points).filter(([, v]) => Number.isFinite(v));
  if (points.length === 0) return `<div class="empty">No data</div>`;
  if (panel.type === "table") {
    const rows = series.map((s) =>
      `<tr><td>${escape(s.name)}</td><td>${escape(formatValue(s.points.at(-1)![1], unit))}</td></tr>`
    );
    return `<table><tr><th>series</th><th>last value</th></tr>${rows.join("")}</table>`;
  }
  const [pad, legendHeight] = [{ left: 80, right: 12, top: 8, bottom: 24 }, 18 * Math.min(series.length, 4)];
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom - legendHeight;
  const times = points.map(([t]) => t);
  const values = points.map(([, v]) => v);
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  const [v0, v1] = [Math.min(0, ...values), Math.max(...values)];
  const x = (t: number) => pad.left + (t1 === t0 ? plotW / 2 : ((t - t0) / (t1 - t0)) * plotW);
  const y = (v: number) => pad.top + plotH - (v1 === v0 ? plotH / 2 : ((v - v0) / (v1 - v0)) * plotH);
  const ticks = [0, 0.5, 1].map((f) => v0 + f * (v1 - v0));
  const svg = [
    `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">`,
    ...ticks.map((v) =>
      `<line x1="${pad.left}" x2="${pad.left + plotW}" y1="${y(v)}" y2="${y(v)}" class="grid"/>` +
      `<text x="${pad.left - 6}" y="${y(v) + 4}" class="tick" text-anchor="end">${escape(formatValue(v, unit))}</text>`
    ),
    ...[t0, t1].map((t, i) =>
      `<text x="${x(t)}" y="${pad.top + plotH + 16}" class="tick" text-anchor="${i === 0 ? "start" : "end"}">${
        new Date(t).toISOString().slice(11, 19)
      }</text>`
    ),
    ...series.map((s, i) => {
      const path = s.points.filter(([, v]) => Number.isFinite(v)).map(([t, v]) =>
        `${x(t).toFixed(1)},${y(v).toFixed(1)}`
      );
      const color = COLORS[i % COLORS.length];
      return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${path.join(" ")}"/>` +
        path.map((p) => `<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="2" fill="${color}"/>`).join("");
    }),
    ...series.slice(0, 4).map((s, i) =>
      `<rect x="${pad.left}" y="${height - legendHeight + i * 18 + 4}" width="12" height="4" fill="${
        COLORS[i % COLORS.length]
      }"/><text x="${pad.left + 18}" y="${height - legendHeight + i * 18 + 10}" class="legend">${
        escape(`${s.name}  last ${formatValue(s.points.at(-1)?.[1] ?? NaN, unit)}`)
      }</text>`
    ),
    series.length > 4
      ? `<text x="${width - 8}" y="${height - 4}" class="legend" text-anchor="end">+${series.length - 4} more</text>`
      : "",
    "</svg>",
  ];
  return svg.join("");
}

/** The page: title, time range, then every panel at its grid position. */
export function dashboardPage(
  dashboard: { title: string; uid: string },
  panels: { panel: Panel; series: PanelSeries[] }[],
  range: { fromMs: number; toMs: number },
): string {
  const column = WIDTH_PX / 24;
  const bottom = Math.max(...panels.map(({ panel }) => panel.gridPos.y + panel.gridPos.h));
  const boxes = panels.map(({ panel, series }) => {
    const { x, y, w, h } = panel.gridPos;
    const [width, height] = [w * column - 8, h * ROW_PX - 8];
    return `<section style="left:${x * column}px;top:${y * ROW_PX}px;width:${width}px;height:${height}px">` +
      `<h2>${escape(panel.title)}</h2>${chart(panel, series, width - 12, height - 34)}</section>`;
  });
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(dashboard.title)}</title><style>
body{margin:0;background:#111217;color:#ccccdc;font:13px "DejaVu Sans",sans-serif}
header{padding:10px 12px;font-size:18px}
header small{color:#8e8e8e;font-size:12px;margin-left:12px}
main{position:relative;width:${WIDTH_PX}px;height:${bottom * ROW_PX}px;margin:0 12px}
section{position:absolute;background:#181b1f;border:1px solid #2c3235;border-radius:3px;padding:4px 6px;box-sizing:border-box}
h2{font-size:13px;margin:2px 0 6px;font-weight:500}
.grid{stroke:#2c3235}.tick{fill:#8e8e8e;font-size:11px}.legend{fill:#ccccdc;font-size:11px}
.empty{color:#e24d42;padding:40px;text-align:center}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #2c3235;padding:4px;text-align:left;font-size:11px}
</style></head><body><header>${escape(dashboard.title)}<small>${dashboard.uid} · ${
    new Date(range.fromMs).toISOString()
  } → ${
    new Date(range.toMs).toISOString()
  } · rendered by tests/deploy/dashboards.test.ts from real query results</small></header>
<main>${boxes.join("\n")}</main></body></html>
`;
}
