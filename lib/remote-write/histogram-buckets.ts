// A native histogram's buckets as the classic `le` convention: every bucket the spans name, negative,
// zero and positive, in ascending order of their bounds, each as its upper bound and the cumulative
// count up to it, then "+Inf" = the whole count. The same walk as Prometheus' AllBucketIterator
// (model/histogram), and the same bounds, bit for bit (tests/fixtures/remote-write/native-histograms
// holds Prometheus' own answers):
//   - schema 0..8: each power of two is divided into 2^schema buckets; the upper bound of bucket
//     `index` is frac * 2^exp with frac = 2^(j / 2^schema) / 2 for j = index mod 2^schema. The fractions
//     are Prometheus' own (histogram-bounds.ts, generated from its code): some of them are one unit in
//     the last place off the correctly rounded value, and a bound must be Prometheus' to the last bit;
//   - schema -4..-1: bucket `index` ends at 2^(index * 2^-schema);
//   - schema -53: custom bounds, bucket `index` ends at customValues[index] (+Inf past the last);
//   - the bucket holding the largest finite numbers ends at Number.MAX_VALUE, so that only ±Inf
//     observations fall in the one after it;
//   - a negative or positive bucket that overlaps the zero bucket ends at the zero threshold.
// `le` labels are written as Prometheus' text format writes them (Go's strconv 'g', shortest).
import { BOUND_FRACTIONS } from "./histogram-bounds.ts";
import type { HistogramSample } from "./model.ts";

export const CUSTOM_BUCKETS_SCHEMA = -53;

interface CumulativeBucket {
  le: string;
  cumulative: number;
}

/** The upper bound of bucket `index` (its lower bound is the upper bound of `index - 1`). */
export function bucketBound(index: number, schema: number, customValues: readonly number[]): number {
  if (schema === CUSTOM_BUCKETS_SCHEMA) return index < customValues.length ? customValues[index]! : Infinity;
  if (schema < 0) {
    const exp = index * 2 ** -schema;
    return exp === 1024 ? Number.MAX_VALUE : 2 ** exp;
  }
  const size = 2 ** schema;
  const fracIndex = ((index % size) + size) % size;
  const exp = Math.floor(index / size) + 1;
  const frac = BOUND_FRACTIONS[schema]![fracIndex]!;
  if (frac === 0.5 && exp === 1025) return Number.MAX_VALUE;
  return ldexp(frac, exp);
}

/** frac * 2^exp without overflow or underflow in between (2 ** exp alone leaves the double range). */
function ldexp(frac: number, exp: number): number {
  let value = frac;
  let e = exp;
  while (e > 1000) {
    value *= 2 ** 1000;
    e -= 1000;
  }
  while (e < -1000) {
    value *= 2 ** -1000;
    e += 1000;
  }
  return value * 2 ** e;
}

/**
 * The index of each of `count` buckets the spans name, walked as Prometheus walks them: the first
 * bucket is at the first span's offset, each next one follows, and a new span starts `offset` after
 * the position the previous one left (empty spans only move the position).
 */
export function bucketIndexes(spans: readonly { offset: number; length: number }[], count: number): number[] {
  const out: number[] = [];
  let spanIndex = 0;
  let inSpan = 0;
  let current = 0;
  for (let b = 0; b < count && spanIndex < spans.length; b++) {
    let span = spans[spanIndex]!;
    if (b === 0) current = span.offset;
    else current++;
    while (inSpan >= span.length) {
      inSpan = 0;
      spanIndex++;
      if (spanIndex >= spans.length) return out;
      span = spans[spanIndex]!;
      current += span.offset;
    }
    out.push(current);
    inSpan++;
  }
  return out;
}

export function cumulativeBuckets(h: HistogramSample): CumulativeBucket[] {
  const buckets: CumulativeBucket[] = [];
  let cumulative = 0;
  const add = (upper: number, count: number) => {
    cumulative += count;
    buckets.push({ le: formatLe(upper), cumulative });
  };
  const zero = h.zeroThreshold;
  // Negative buckets, from the most negative up: bucket i spans [-bound(i), -bound(i-1)).
  const negative = bucketIndexes(h.negativeSpans, h.negative.length);
  for (let i = negative.length - 1; i >= 0; i--) {
    let upper = -bucketBound(negative[i]! - 1, h.schema, h.customValues);
    if (upper < 0 && upper > -zero) upper = -zero;
    add(upper, h.negative[i]!);
  }
  if (h.zeroCount > 0) add(zero, h.zeroCount);
  const positive = bucketIndexes(h.positiveSpans, h.positive.length);
  for (let i = 0; i < positive.length; i++) {
    let upper = bucketBound(positive[i]!, h.schema, h.customValues);
    if (upper < 0 && upper > -zero) upper = -zero;
    add(upper, h.positive[i]!);
  }
  if (buckets.at(-1)?.le !== "+Inf") buckets.push({ le: "+Inf", cumulative: h.count });
  return buckets;
}

/** As Go's strconv.FormatFloat(v, 'g', -1, 64), which Prometheus' text format uses for `le`. */
export function formatLe(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  const [mantissa, exponent] = value.toExponential().split("e") as [string, string];
  const exp = Number(exponent);
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const sign = negative ? "-" : "";
  if (exp < -4 || exp >= 6) {
    const rest = digits.length > 1 ? `.${digits.slice(1)}` : "";
    return `${sign}${digits[0]}${rest}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${sign}${digits}${"0".repeat(exp + 1 - digits.length)}`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}
