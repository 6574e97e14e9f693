// The lines of the rarer parts of a series, beside its float samples (convert.ts):
//   native histogram   <name>,<tags> count=,counter_reset_hint="",schema=,sum=,zero_count=,zero_threshold= <ms>
//                      <name>_bucket,<tags>,le=<bound> value=<cumulative count> <ms>   (one per bucket, +Inf last)
//   exemplar           <name>,<tags> exemplar=<value>,exemplar_<label>="<value>",... <ms>
//                      <name>,<tags> exemplar.value="+Inf",exemplar_<label>="<value>",... <ms>   (±Inf, NaN)
//   metadata           prometheus_metadata,metric=<name> help="",type="",unit="" <ms>
// The buckets follow the classic histogram convention (`le` = upper bound, cumulative counts), so
// Flux's histogramQuantile() and every query written for classic Prometheus histograms work on them;
// the point in `<name>` keeps what the buckets do not: the schema, the zero bucket, the reset hint.
// Exemplar labels are fields, never tags: trace ids are unbounded and would explode the series.
// Prometheus stores exemplars whatever their value (tsdb/exemplar.go validates labels, never the value),
// but a line-protocol float cannot be ±Inf or NaN: such a value is the string field `exemplar.value`, as
// Go's strconv writes it ("+Inf", "-Inf", "NaN", what Flux's float(v:) reads back), `exemplar` left out.
// The dot keeps it apart from every `exemplar_<label>` field whatever the label (UTF-8 label names can
// hold any character, but each of those fields starts with `exemplar_`), and it is always a string.
import { escapeTag, lineStart, quoted } from "./line-protocol.ts";
import { bucketIndexes, cumulativeBuckets, CUSTOM_BUCKETS_SCHEMA } from "./histogram-buckets.ts";
import type { Exemplar, HistogramSample, Metadata } from "./model.ts";

const METADATA_MEASUREMENT = "prometheus_metadata";
/** The string field of an exemplar whose value is ±Inf or NaN (never an `exemplar_<label>`: see above). */
const NON_FINITE_EXEMPLAR_FIELD = "exemplar.value";

/** Point's float: only finite numbers; String() is what Point.floatField writes. */
const float = (value: number) => String(value);

/**
 * Why Prometheus would refuse this histogram (its model/histogram Validate, which its remote-write
 * handler answers per sample: the sample is not written, the rest of the request is, the answer is a
 * 400), or undefined when it would take it.
 */
export function histogramProblem(h: HistogramSample): string | undefined {
  if (h.schema !== CUSTOM_BUCKETS_SCHEMA && (h.schema < -4 || h.schema > 8)) {
    return `unknown schema ${h.schema} (-4..8, or -53 for custom buckets)`;
  }
  // Observations in the buckets, summed on the way (integer histograms are checked against their count).
  let inBuckets = h.zeroCount;
  for (
    const [spans, counts, side] of [[h.negativeSpans, h.negative, "negative"], [
      h.positiveSpans,
      h.positive,
      "positive",
    ]] as const
  ) {
    let named = 0;
    for (const span of spans) named += span.length;
    if (named !== counts.length) return `${side} spans name ${named} buckets, ${counts.length} counts given`;
    for (const c of counts) {
      if (!(c >= 0) || !Number.isFinite(c)) return `${side} bucket count ${c} is not a count`;
      inBuckets += c;
    }
  }
  if (!(h.count >= 0) || !Number.isFinite(h.count)) return `histogram count ${h.count} is not a count`;
  if (!(h.zeroCount >= 0) || !Number.isFinite(h.zeroCount)) return `zero bucket count ${h.zeroCount} is not a count`;
  if (!(h.zeroThreshold >= 0) || !Number.isFinite(h.zeroThreshold)) {
    return `zero threshold ${h.zeroThreshold} is negative or not finite`;
  }
  if (h.schema === CUSTOM_BUCKETS_SCHEMA) {
    if (h.negative.length > 0 || h.zeroCount > 0) return "custom buckets with negative or zero buckets";
    for (let i = 1; i < h.customValues.length; i++) {
      if (!(h.customValues[i]! > h.customValues[i - 1]!)) return "custom bounds not increasing";
    }
    const indexes = bucketIndexes(h.positiveSpans, h.positive.length);
    if (indexes.some((i) => i < 0 || i > h.customValues.length)) return "custom bucket outside its bounds";
  }
  // Integer histograms only, as Prometheus: a float histogram's count is not checked against its buckets
  // (float rounding would refuse good ones). Every observation is in a bucket but NaN ones, which also
  // make the sum NaN: so the count is the buckets' total, or with a NaN sum at least that. Counts past
  // 2^53 are not exact here: those are not judged rather than misjudged.
  if (!h.float && inBuckets <= Number.MAX_SAFE_INTEGER && h.count <= Number.MAX_SAFE_INTEGER) {
    if (h.count < inBuckets) return `histogram count ${h.count} < ${inBuckets} observations in its buckets`;
    if (h.count > inBuckets && !Number.isNaN(h.sum)) {
      return `histogram count ${h.count} > ${inBuckets} observations in its buckets, with a sum that is not NaN ` +
        "(only NaN observations are counted outside the buckets, and they make the sum NaN)";
    }
  }
  return undefined;
}

/**
 * Both kinds of lines of one histogram sample; or why the series cannot carry them (dropped); or why
 * Prometheus would refuse the histogram itself (refused: histogramProblem).
 */
export function histogramLines(
  measurement: string,
  tags: readonly string[],
  h: HistogramSample,
): { text: string } | { dropped: "label_conflict" } | { refused: string } {
  const problem = histogramProblem(h);
  if (problem !== undefined) return { refused: problem };
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

/** The exemplar beside its series; a value a line-protocol float cannot be (±Inf, NaN) as the string `exemplar.value`. */
export function exemplarLine(
  measurement: string,
  tags: readonly string[],
  exemplar: Exemplar,
  seriesTimestamp: number,
): string {
  const value = exemplar.value;
  const fields = [
    Number.isFinite(value)
      ? `exemplar=${float(value)}`
      : `${NON_FINITE_EXEMPLAR_FIELD}="${Number.isNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf"}"`,
  ];
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
