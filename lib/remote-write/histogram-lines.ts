// The lines of the rarer parts of a series, beside its float samples (convert.ts):
//   native histogram   <name>,<tags> count=,counter_reset_hint="",schema=,sum=,zero_count=,zero_threshold= <ms>
//                      <name>_bucket,<tags>,le=<bound> value=<cumulative count> <ms>   (one per bucket, +Inf last)
//   exemplar           <name>,<tags> exemplar=<value>,exemplar_<label>="<value>",... <ms>
//   metadata           prometheus_metadata,metric=<name> help="",type="",unit="" <ms>
// The buckets follow the classic histogram convention (`le` = upper bound, cumulative counts), so
// Flux's histogramQuantile() and every query written for classic Prometheus histograms work on them;
// the point in `<name>` keeps what the buckets do not: the schema, the zero bucket, the reset hint.
// Exemplar labels are fields, never tags: trace ids are unbounded and would explode the series.
import { escapeTag, lineStart, quoted } from "./line-protocol.ts";
import { bucketIndexes, cumulativeBuckets, CUSTOM_BUCKETS_SCHEMA } from "./histogram-buckets.ts";
import type { Exemplar, HistogramSample, Metadata } from "./model.ts";
import { DomainError } from "@tarsd/sdk";

const METADATA_MEASUREMENT = "prometheus_metadata";

/** Point's float: only finite numbers; String() is what Point.floatField writes. */
const float = (value: number) => String(value);

/** A histogram Prometheus would refuse is malformed input: the request is answered 400. */
function validate(h: HistogramSample): void {
  const problem = (text: string) => {
    throw new DomainError("malformed", `invalid native histogram: ${text}`);
  };
  if (h.schema !== CUSTOM_BUCKETS_SCHEMA && (h.schema < -4 || h.schema > 8)) problem(`schema ${h.schema}`);
  for (
    const [spans, counts, side] of [[h.negativeSpans, h.negative, "negative"], [
      h.positiveSpans,
      h.positive,
      "positive",
    ]] as const
  ) {
    const named = spans.reduce((n, span) => n + span.length, 0);
    if (named !== counts.length) problem(`${side} spans name ${named} buckets, ${counts.length} counts given`);
    if (counts.some((c) => !(c >= 0) || !Number.isFinite(c))) problem(`${side} bucket count not a finite count`);
  }
  if (!(h.count >= 0) || !Number.isFinite(h.count)) problem(`count ${h.count}`);
  if (!(h.zeroCount >= 0) || !Number.isFinite(h.zeroCount)) problem(`zero count ${h.zeroCount}`);
  if (!(h.zeroThreshold >= 0) || !Number.isFinite(h.zeroThreshold)) problem(`zero threshold ${h.zeroThreshold}`);
  if (h.schema === CUSTOM_BUCKETS_SCHEMA) {
    if (h.negative.length > 0 || h.zeroCount > 0) problem("custom buckets with negative or zero buckets");
    for (let i = 1; i < h.customValues.length; i++) {
      if (!(h.customValues[i]! > h.customValues[i - 1]!)) problem("custom bounds not increasing");
    }
    const indexes = bucketIndexes(h.positiveSpans, h.positive.length);
    if (indexes.some((i) => i < 0 || i > h.customValues.length)) problem("custom bucket outside its bounds");
  }
}

/** Both kinds of lines of one histogram sample, or why the series cannot carry them. */
export function histogramLines(
  measurement: string,
  tags: readonly string[],
  h: HistogramSample,
): { text: string } | { dropped: "label_conflict" } {
  validate(h);
  // `le` belongs to the buckets: a series that already has it cannot be written this way.
  for (let i = 0; i < tags.length; i += 2) if (tags[i] === "le") return { dropped: "label_conflict" };
  const ts = ` ${String(h.timestamp)}\n`;
  const fields = [`count=${float(h.count)}`, `counter_reset_hint=${quoted(h.resetHint)}`, `schema=${h.schema}`];
  if (Number.isFinite(h.sum)) fields.push(`sum=${float(h.sum)}`); // a NaN observation makes the sum NaN
  fields.push(`zero_count=${float(h.zeroCount)}`, `zero_threshold=${float(h.zeroThreshold)}`);
  let lines = `${lineStart(measurement, tags)} ${fields.join(",")}${ts}`;
  // `le` in its sorted place among the tags, as Point sorts them.
  let at = 0;
  while (at < tags.length && tags[at]! < "le") at += 2;
  const before = tags.slice(0, at);
  const after = tags.slice(at);
  for (const bucket of cumulativeBuckets(h)) {
    lines += `${lineStart(`${measurement}_bucket`, [...before, "le", bucket.le, ...after])} value=${
      float(bucket.cumulative)
    }${ts}`;
  }
  return { text: lines };
}

/** The exemplar beside its series, or nothing when its value cannot be stored (NaN, ±Inf). */
export function exemplarLine(
  measurement: string,
  tags: readonly string[],
  exemplar: Exemplar,
  seriesTimestamp: number,
): string | undefined {
  if (!Number.isFinite(exemplar.value)) return undefined;
  const fields = [`exemplar=${float(exemplar.value)}`];
  const labels: [string, string][] = [];
  for (let i = 0; i + 1 < exemplar.labels.length; i += 2) {
    if (exemplar.labels[i] !== "" && exemplar.labels[i + 1] !== "") {
      labels.push([exemplar.labels[i]!, exemplar.labels[i + 1]!]);
    }
  }
  labels.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of labels) fields.push(`${escapeTag(`exemplar_${name}`)}=${quoted(value)}`);
  return `${lineStart(measurement, tags)} ${fields.join(",")} ${String(exemplar.timestamp || seriesTimestamp)}\n`;
}

/** A metric's type, help and unit, findable next to it: `prometheus_metadata` tagged by metric name. */
export function metadataLine(metric: string, metadata: Metadata, timestamp: number): string {
  const fields: string[] = [];
  if (metadata.help !== "") fields.push(`help=${quoted(metadata.help)}`);
  fields.push(`type=${quoted(metadata.type)}`);
  if (metadata.unit !== "") fields.push(`unit=${quoted(metadata.unit)}`);
  return `${lineStart(METADATA_MEASUREMENT, ["metric", metric])} ${fields.join(",")} ${String(timestamp)}\n`;
}
