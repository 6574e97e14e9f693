// Converting half: decoded series -> InfluxDB line protocol, the shape of InfluxDB 1.x's own
// /api/v1/prom/write so existing queries keep working:
//   measurement = metric name (__name__), tags = the other labels, one float field `value`,
//   timestamp in milliseconds (writes use precision=ms).
// Escaping is the client's (`Point` from @influxdata/influxdb-client), never hand-rolled. What
// Point cannot express safely is decided here, per series, so that no single series can make the
// backend reject the whole batch (InfluxDB rejects a request when one line does not parse):
//   - empty label values are not tags (Prometheus treats them as absent; Point drops them too);
//   - label names InfluxDB reserves (`time`, `_measurement`, `_field`) are renamed `exported_<name>`
//     (Prometheus' own convention for conflicting labels); a series already carrying that
//     `exported_` name is dropped (reason label_conflict);
//   - a label named `value` stays a tag: tags and the field are separate in line protocol, so it
//     cannot clobber the field;
//   - a backslash that would escape the separator Point puts after it (at the end of a name or
//     value, or before a `,` ` ` `=` that Point escapes) cannot be encoded: series dropped
//     (reason unencodable_label);
//   - empty label names or a missing/empty metric name: series dropped (invalid_label_name,
//     missing_metric_name);
//   - duplicate label names: series dropped (duplicate_label) in 1.0, as Prometheus' receiver
//     does; the caller answers 400 for 2.0 (`duplicateLabels: "reject"`);
//   - stale markers, other NaNs and ±Inf cannot be stored: dropped (stale, nan, inf); every finite
//     sample of the same request is still written.
import { Point } from "@influxdata/influxdb-client";
import { HttpError } from "../http/errors.ts";
import type { Series } from "./decode.ts";

export type DropReason =
  | "stale"
  | "nan"
  | "inf"
  | "duplicate_label"
  | "missing_metric_name"
  | "invalid_label_name"
  | "unencodable_label"
  | "label_conflict";

export interface Conversion {
  /** One line-protocol line per written sample (timestamps in ms). */
  lines: string[];
  samplesReceived: number;
  dropped: Partial<Record<DropReason, number>>;
  /** Native histogram samples received: not representable in the mapping, never written. */
  histograms: number;
  /** Exemplars received: not part of the mapping, ignored. */
  exemplars: number;
}

export interface ConvertOptions {
  /** 1.0 skips a series with duplicate label names; 2.0 rejects the request (400). */
  duplicateLabels: "skip" | "reject";
}

export const FIELD = "value";
const METRIC_NAME_LABEL = "__name__";
/** Keys InfluxDB (2.x) rejects or reserves as tag keys. */
const RESERVED_KEYS = new Set(["time", "_measurement", "_field"]);
const RENAME_PREFIX = "exported_";

// Point escapes these after a tag key/value (`,` ` ` `=`) or the measurement (`,` ` `) with a
// backslash; a literal backslash right before them, or at the end, turns into an escape sequence
// that swallows the separator. Point does not escape backslashes, so such strings are refused here.
const UNENCODABLE_TAG = /\\(?:[, =]|$)/;
const UNENCODABLE_MEASUREMENT = /\\(?:[, ]|$)/;

const MS = { convertTime: (value: unknown) => String(value) };

export function toLineProtocol(series: Series[], options: ConvertOptions): Conversion {
  const lines: string[] = [];
  const dropped: Partial<Record<DropReason, number>> = {};
  let samplesReceived = 0;
  let histograms = 0;
  let exemplars = 0;
  const drop = (reason: DropReason, count: number) => {
    if (count > 0) dropped[reason] = (dropped[reason] ?? 0) + count;
  };

  for (const one of series) {
    samplesReceived += one.samples.length;
    histograms += one.histograms;
    exemplars += one.exemplars;
    if (one.samples.length === 0) continue;

    const point = seriesPoint(one.labels, options);
    if (typeof point === "string") {
      drop(point, one.samples.length);
      continue;
    }
    for (const sample of one.samples) {
      const value = sample.value;
      if (sample.stale) drop("stale", 1);
      else if (Number.isNaN(value)) drop("nan", 1);
      else if (!Number.isFinite(value)) drop("inf", 1);
      else {
        point.floatField(FIELD, value).timestamp(sample.timestamp);
        lines.push(point.toLineProtocol(MS)!);
      }
    }
  }
  return { lines, samplesReceived, dropped, histograms, exemplars };
}

/** A Point carrying the series' measurement and tags, or the reason the series cannot be written. */
function seriesPoint(labels: string[], options: ConvertOptions): Point | DropReason {
  let measurement = "";
  const tags: Record<string, string> = {};
  const seen = new Set<string>();
  for (let i = 0; i < labels.length; i += 2) {
    const name = labels[i]!;
    const value = labels[i + 1]!;
    if (seen.has(name)) {
      if (options.duplicateLabels === "reject") throw new HttpError(400, `duplicate label name ${JSON.stringify(name)} in series ${describe(labels)}`);
      return "duplicate_label";
    }
    seen.add(name);
    if (name === METRIC_NAME_LABEL) {
      measurement = value;
      continue;
    }
    if (name === "") return "invalid_label_name";
    if (value === "") continue;
    if (UNENCODABLE_TAG.test(name) || UNENCODABLE_TAG.test(value)) return "unencodable_label";
    tags[RESERVED_KEYS.has(name) ? RENAME_PREFIX + name : name] = value;
  }
  if (measurement === "") return "missing_metric_name";
  if (UNENCODABLE_MEASUREMENT.test(measurement)) return "unencodable_label";
  for (const reserved of RESERVED_KEYS) {
    if (seen.has(reserved) && seen.has(RENAME_PREFIX + reserved)) return "label_conflict";
  }
  const point = new Point(measurement);
  for (const key in tags) point.tag(key, tags[key]!);
  return point;
}

function describe(labels: string[]): string {
  const pairs: string[] = [];
  for (let i = 0; i < labels.length; i += 2) pairs.push(`${labels[i]}=${JSON.stringify(labels[i + 1])}`);
  return `{${pairs.join(", ")}}`.slice(0, 300);
}
