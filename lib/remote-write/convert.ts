// Decoded series -> InfluxDB line protocol, in the shape of InfluxDB 1.x's own /api/v1/prom/write
// (measurement = metric name, tags = the other labels, one field `value`, ms timestamps) so existing
// queries keep working; histograms, exemplars and metadata in histogram-lines.ts. The README's "What
// happens to each part of a request" is the mapping rule by rule: what is renamed, dropped (counted by
// reason) or refused, decided per series so that no single series can make InfluxDB reject the batch.
// Escaping is the client's own (`escape.measurement` / `escape.tag`, what Point calls; a test compares
// with Point on random labels). A series' measurement and tags are written once per request into one
// byte buffer and copied for each further sample (plain-prefix.ts): no per-line strings, no state kept
// between requests.
import { DomainError } from "@tarsd/sdk";
import type { Metadata, ParsedRequest, Series } from "./model.ts";
import { exemplarLine, histogramLines, metadataLine } from "./histogram-lines.ts";
import { lineStart, RESERVED_TAG_KEYS, utf8Bytes } from "./line-protocol.ts";
import { ByteWriter } from "./byte-writer.ts";
import { writePlainPrefix } from "./plain-prefix.ts";

export const DROP_REASONS = [
  "stale",
  "nan",
  "inf",
  "missing_metric_name",
  "invalid_label_name",
  "duplicate_label",
  "label_conflict",
  "unencodable_label",
  "invalid_histogram",
] as const;

/** Why samples were not written; `missing_metric_name` and `invalid_histogram` are refusals (a 400), see Conversion. */
type DropReason = (typeof DROP_REASONS)[number];

/** `head` is the UTF-8 of `measurement,tag=value,... value=`: everything before the number. */
type Prefix = { ok: true; head: Uint8Array } | { ok: false; reason: DropReason };

export interface Conversion {
  /** Line protocol, UTF-8: one newline-terminated line per point (timestamps in ms). */
  body: Uint8Array;
  /** Float samples written. */
  written: number;
  samplesReceived: number;
  /** Float samples (and histograms, under the same reasons) dropped on purpose. */
  dropped: Partial<Record<DropReason, number>>;
  histogramsReceived: number;
  histogramsWritten: number;
  exemplarsReceived: number;
  exemplarsWritten: number;
  metadataWritten: number;
  /** Series (and 1.0 metadata entries) without a metric name: refused, nothing of them written. */
  nameless: { series: number; samples: number; histograms: number; exemplars: number; metadata: number };
  /**
   * Native histograms Prometheus would refuse (histogram-lines.ts histogramProblem): refused one by one,
   * the rest of their series written; `first` describes the first few series (`name{labels}: why`).
   */
  invalidHistograms: { series: number; histograms: number; first: string[] };
}

/** How many refused series an answer names (the others are counted). */
export const NAMED_INVALID_SERIES = 3;

interface ConvertOptions {
  /** 1.0 skips a series with duplicate label names; 2.0 rejects the request (400). */
  duplicateLabels: "skip" | "reject";
}

const FIELD = "value";
const METRIC_NAME_LABEL = "__name__";
const RESERVED_KEYS = new Set(RESERVED_TAG_KEYS);
const RENAME_PREFIX = "exported_";

// Point escapes these after a tag key/value (`,` ` ` `=`) or the measurement (`,` ` `) with a
// backslash; a literal backslash right before them, or at the end, turns into an escape sequence
// that swallows the separator. Point does not escape backslashes, so such strings are refused here.
const UNENCODABLE_TAG = /\\(?:[, =]|$)/;
const UNENCODABLE_MEASUREMENT = /\\(?:[, ]|$)/;

/** Converts into `out` (a receiver reuses one writer for every request; the body returned is a copy). */
export function toLineProtocol(
  request: Series[] | ParsedRequest,
  options: ConvertOptions,
  out = new ByteWriter(),
): Conversion {
  const { series, metadata = [] } = Array.isArray(request) ? { series: request } : request;
  out.reset();
  const result: Conversion = {
    body: new Uint8Array(0),
    written: 0,
    samplesReceived: 0,
    dropped: {},
    histogramsReceived: 0,
    histogramsWritten: 0,
    exemplarsReceived: 0,
    exemplarsWritten: 0,
    metadataWritten: 0,
    nameless: { series: 0, samples: 0, histograms: 0, exemplars: 0, metadata: 0 },
    invalidHistograms: { series: 0, histograms: 0, first: [] },
  };
  let lastTimestamp = Number.NaN;
  let timestampTail = new Uint8Array(0);
  const drop = (reason: DropReason, count: number) => {
    if (count > 0) result.dropped[reason] = (result.dropped[reason] ?? 0) + count;
  };
  const families = new Map<string, { metadata: Metadata; timestamp: number }>();

  for (const one of series) {
    result.samplesReceived += one.samples.length;
    result.histogramsReceived += one.histograms.length;
    result.exemplarsReceived += one.exemplars.length;
    if (one.samples.length + one.histograms.length + one.exemplars.length === 0 && !one.metadata) continue;

    const head = out.length;
    const refused = writePrefix(one, options, out);
    if (refused !== undefined) {
      if (refused === "missing_metric_name") {
        result.nameless.series++;
        result.nameless.samples += one.samples.length;
        result.nameless.histograms += one.histograms.length;
        result.nameless.exemplars += one.exemplars.length;
      } else {
        drop(refused, one.samples.length + one.histograms.length);
      }
      continue;
    }
    const headEnd = out.length;
    let lines = 0;
    for (const sample of one.samples) {
      const value = sample.value;
      if (sample.stale) drop("stale", 1);
      else if (Number.isNaN(value)) drop("nan", 1);
      else if (!Number.isFinite(value)) drop("inf", 1);
      else {
        // A batch mostly shares its timestamps (one rule evaluation, one scrape): encode " <ms>\n" once.
        if (sample.timestamp !== lastTimestamp) {
          lastTimestamp = sample.timestamp;
          timestampTail = utf8.encode(` ${String(lastTimestamp)}\n`);
        }
        if (lines++ > 0) out.repeat(head, headEnd);
        // String(value) is exactly what Point.floatField writes.
        out.sample(String(value), timestampTail);
        result.written++;
      }
    }
    if (lines === 0) out.truncate(head); // no sample to write: the prefix alone is no line
    if (one.histograms.length + one.exemplars.length === 0 && !one.metadata) continue;

    // The rarer parts of a series: its key (measurement and sorted tags) is computed again here.
    const key = computeKey(one.labels, options) as SeriesKey & { ok: true };
    const latest = latestTimestamp(one);
    let refusedBefore = false;
    for (const histogram of one.histograms) {
      const lines = histogramLines(key.measurement, key.tags, histogram);
      if ("dropped" in lines) {
        drop(lines.dropped, 1);
        continue;
      }
      if ("refused" in lines) {
        const invalid = result.invalidHistograms;
        invalid.histograms++;
        if (!refusedBefore) {
          refusedBefore = true;
          invalid.series++;
          if (invalid.first.length < NAMED_INVALID_SERIES) {
            invalid.first.push(`${seriesName(one.labels)}: ${lines.refused}`);
          }
        }
        continue;
      }
      out.text(lines.text);
      result.histogramsWritten++;
    }
    for (const exemplar of one.exemplars) {
      out.text(exemplarLine(key.measurement, key.tags, exemplar, latest));
      result.exemplarsWritten++;
    }
    if (one.metadata) families.set(key.measurement, { metadata: one.metadata, timestamp: latest });
  }
  const now = Date.now();
  for (const family of metadata) {
    if (family.metricFamilyName === "") result.nameless.metadata++;
    else families.set(family.metricFamilyName, { metadata: family, timestamp: now });
  }
  for (const [name, { metadata: m, timestamp }] of families) {
    out.text(metadataLine(name, m, timestamp));
    result.metadataWritten++;
  }
  result.body = out.finish();
  return result;
}

/** The newest timestamp of a series' samples and histograms (exemplars without one take it), else now. */
function latestTimestamp(series: Series): number {
  let latest = 0;
  for (const sample of series.samples) latest = Math.max(latest, sample.timestamp);
  for (const histogram of series.histograms) latest = Math.max(latest, histogram.timestamp);
  return latest || Date.now();
}

const utf8 = new TextEncoder();

const FIELD_HEAD = utf8.encode(` ${FIELD}=`);

/** Writes the series' `measurement,tag=value,... value=` into `out`, or returns why it cannot be written. */
function writePrefix(series: Series, options: ConvertOptions, out: ByteWriter): DropReason | undefined {
  if (series.labelBytes !== undefined && writePlainPrefix(series.labelBytes, out, FIELD_HEAD)) return undefined;
  const prefix = computePrefix(series.labels, options);
  if (prefix.ok === false) return prefix.reason;
  out.bytes(prefix.head);
  return undefined;
}

/** `measurement,tag=value,... value=` for the series (tags sorted by key), or why it cannot be written. */
function computePrefix(labels: readonly string[], options: ConvertOptions): Prefix {
  const key = computeKey(labels, options);
  if (key.ok === false) return key;
  return { ok: true, head: utf8Bytes(`${lineStart(key.measurement, key.tags)} ${FIELD}=`) };
}

type SeriesKey = { ok: true; measurement: string; tags: string[] } | { ok: false; reason: DropReason };

/** The measurement and the tags (flat [key, value, ...], sorted by key, reserved names renamed), or why not. */
function computeKey(labels: readonly string[], options: ConvertOptions): SeriesKey {
  // Prometheus sends label names sorted; strictly increasing names cannot repeat, and need no sort.
  let increasing = true;
  for (let i = 2; i < labels.length; i += 2) {
    if (!(labels[i - 2]! < labels[i]!)) {
      increasing = false;
      break;
    }
  }
  if (!increasing) {
    const duplicate = firstDuplicate(labels);
    if (duplicate !== undefined) {
      if (options.duplicateLabels === "reject") {
        throw new DomainError(
          "malformed",
          `duplicate label name ${JSON.stringify(duplicate)} in series ${describe(labels)}`,
        );
      }
      return { ok: false, reason: "duplicate_label" };
    }
  }

  let measurement = "";
  let hasReserved = false;
  const tags: string[] = []; // flat [key, value, ...]
  for (let i = 0; i < labels.length; i += 2) {
    const name = labels[i]!;
    const value = labels[i + 1]!;
    if (name === METRIC_NAME_LABEL) {
      measurement = value;
      continue;
    }
    if (name === "") return { ok: false, reason: "invalid_label_name" };
    const reserved = RESERVED_KEYS.has(name);
    hasReserved ||= reserved;
    if (value === "") continue;
    if ((name.includes("\\") && UNENCODABLE_TAG.test(name)) || (value.includes("\\") && UNENCODABLE_TAG.test(value))) {
      return { ok: false, reason: "unencodable_label" };
    }
    tags.push(reserved ? RENAME_PREFIX + name : name, value);
  }
  if (measurement === "") return { ok: false, reason: "missing_metric_name" };
  if (measurement.includes("\\") && UNENCODABLE_MEASUREMENT.test(measurement)) {
    return { ok: false, reason: "unencodable_label" };
  }
  if (hasReserved) {
    for (const reserved of RESERVED_KEYS) {
      if (hasLabel(labels, reserved) && hasLabel(labels, RENAME_PREFIX + reserved)) {
        return { ok: false, reason: "label_conflict" };
      }
    }
  }
  if (increasing && !hasReserved) return { ok: true, measurement, tags };
  const pairs: [string, string][] = [];
  for (let i = 0; i < tags.length; i += 2) pairs.push([tags[i]!, tags[i + 1]!]);
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { ok: true, measurement, tags: pairs.flat() };
}

function firstDuplicate(labels: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (let i = 0; i < labels.length; i += 2) {
    if (seen.has(labels[i]!)) return labels[i];
    seen.add(labels[i]!);
  }
  return undefined;
}

function hasLabel(labels: readonly string[], name: string): boolean {
  for (let i = 0; i < labels.length; i += 2) if (labels[i] === name) return true;
  return false;
}

/** The series as PromQL writes it, `name{label="value", ...}`, bounded (an answer quotes it). */
function seriesName(labels: readonly string[]): string {
  let metric = "";
  const pairs: string[] = [];
  for (let i = 0; i < labels.length; i += 2) {
    if (labels[i] === METRIC_NAME_LABEL) metric = labels[i + 1]!;
    else if (labels[i + 1] !== "") pairs.push(`${labels[i]}=${JSON.stringify(labels[i + 1])}`);
  }
  const text = `${metric}{${pairs.join(", ")}}`;
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

function describe(labels: readonly string[]): string {
  const pairs: string[] = [];
  for (let i = 0; i < labels.length; i += 2) pairs.push(`${labels[i]}=${JSON.stringify(labels[i + 1])}`);
  return `{${pairs.join(", ")}}`.slice(0, 300);
}
