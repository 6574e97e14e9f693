// Native histograms against Prometheus' own code: tests/fixtures/remote-write/native-histograms holds
// requests built with Prometheus' protobuf types (v0.316.0; 1.0 and 2.0, integer and float, gauge,
// custom buckets, schemas -2 to 8) and the cumulative buckets its AllBucketIterator gives. Each goes
// through our decoder and converter; the lines must carry exactly those buckets and fields. And
// verdicts.json: histograms at the edges of Prometheus' Validate, each refused here exactly when
// Prometheus refuses it.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { toLineProtocol } from "../../lib/remote-write/convert.ts";
import { linesOf } from "./lines.ts";
import { parseMessage } from "../../lib/remote-write/decode.ts";
import { BOUND_FRACTIONS } from "../../lib/remote-write/histogram-bounds.ts";
import { bucketBound, formatLe } from "../../lib/remote-write/histogram-buckets.ts";

interface Case {
  name: string;
  version: 1 | 2;
  message_base64: string;
  labels: Record<string, string>;
  histograms: {
    timestamp: number;
    count: number;
    sum: number;
    schema: number;
    zero_threshold: number;
    zero_count: number;
    reset_hint: string;
    buckets: { le: string; cumulative: number }[];
  }[];
}

const CASES = JSON.parse(
  readFileSync(join(REPO_ROOT, "tests", "fixtures", "remote-write", "native-histograms", "cases.json"), "utf8"),
) as Case[];

/** Line protocol back into measurement, tags, fields and timestamp (enough for these lines). */
function parseLine(line: string) {
  const [head, fieldText, timestamp] = line.split(" ") as [string, string, string];
  const [measurement, ...tagPairs] = head.split(",");
  const tags = Object.fromEntries(tagPairs.map((pair) => pair.split("=") as [string, string]));
  const fields = Object.fromEntries(
    fieldText.split(",").map((pair) => {
      const [key, value] = pair.split("=") as [string, string];
      return [key, value.startsWith('"') ? value.slice(1, -1) : Number(value)];
    }),
  );
  return { measurement: measurement!, tags, fields, timestamp: Number(timestamp) };
}

interface Verdict {
  name: string;
  version: 1 | 2;
  message_base64: string;
  /** Prometheus' Validate error, "" when it accepts the histogram. */
  refused: string;
}

const VERDICTS = JSON.parse(
  readFileSync(join(REPO_ROOT, "tests", "fixtures", "remote-write", "native-histograms", "verdicts.json"), "utf8"),
) as Verdict[];

describe("native histograms, as Prometheus computes them", () => {
  for (const v of VERDICTS) {
    test(`Prometheus ${v.refused ? "refuses" : "accepts"}: ${v.name}`, () => {
      const parsed = parseMessage(new Uint8Array(Buffer.from(v.message_base64, "base64")), v.version);
      const out = toLineProtocol(parsed, { duplicateLabels: v.version === 1 ? "skip" : "reject" });
      expect({ written: out.histogramsWritten, refused: out.invalidHistograms.histograms }).toEqual(
        v.refused ? { written: 0, refused: 1 } : { written: 1, refused: 0 },
      );
      if (v.refused) expect(out.invalidHistograms.first).toEqual([expect.stringMatching(/^verdict\{job="api"\}: /)]);
    });
  }

  for (const c of CASES) {
    test(c.name, () => {
      const parsed = parseMessage(new Uint8Array(Buffer.from(c.message_base64, "base64")), c.version);
      const out = toLineProtocol(parsed, { duplicateLabels: c.version === 1 ? "skip" : "reject" });
      expect(out.histogramsWritten).toBe(c.histograms.length);
      const text = linesOf(out);
      const lines = text.filter((l) => !l.startsWith("prometheus_metadata,")).map(parseLine);
      const name = c.labels.__name__!;
      const seriesTags = Object.fromEntries(Object.entries(c.labels).filter(([k]) => k !== "__name__"));
      for (const want of c.histograms) {
        const at = lines.filter((l) => l.timestamp === want.timestamp);
        const point = at.find((l) => l.measurement === name);
        expect(point?.tags).toEqual(seriesTags);
        expect(point?.fields).toEqual({
          count: want.count,
          sum: want.sum,
          schema: want.schema,
          zero_threshold: want.zero_threshold,
          zero_count: want.zero_count,
          counter_reset_hint: want.reset_hint,
        });
        const buckets = at.filter((l) => l.measurement === `${name}_bucket`);
        expect(buckets.map((b) => ({ le: b.tags.le, cumulative: b.fields.value }))).toEqual(want.buckets);
        for (const b of buckets) expect({ ...b.tags, le: undefined }).toEqual({ ...seriesTags, le: undefined });
      }
      if (c.version === 2) {
        // The series' metadata (type, help, unit) is stored next to it.
        const latest = Math.max(...c.histograms.map((h) => h.timestamp));
        expect(text.filter((l) => l.startsWith("prometheus_metadata,"))).toEqual([
          `prometheus_metadata,metric=${name} help="Request latency.",type="histogram",unit="seconds" ${latest}`,
        ]);
      }
    });
  }

  test("the bound fractions: Prometheus' values, each within a few units in the last place of 2^(j/2^schema)/2", () => {
    expect(BOUND_FRACTIONS.map((row) => row.length)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256]);
    for (let schema = 0; schema <= 8; schema++) {
      BOUND_FRACTIONS[schema]!.forEach((fraction, j) => {
        const exact = 2 ** (j / 2 ** schema) / 2;
        expect(Math.abs(fraction - exact)).toBeLessThanOrEqual(4 * Number.EPSILON * exact);
      });
    }
  });

  test("the largest finite bucket ends at Number.MAX_VALUE (only ±Inf beyond), custom bounds end at +Inf", () => {
    expect(bucketBound(1024, 0, [])).toBe(Number.MAX_VALUE);
    expect(bucketBound(256, -2, [])).toBe(Number.MAX_VALUE);
    expect(bucketBound(1025, 0, [])).toBe(Infinity);
    expect(bucketBound(2, -53, [0.1, 1])).toBe(Infinity);
  });

  test("le is written as Prometheus' text format writes floats (Go's strconv 'g', shortest)", () => {
    const cases: [number, string][] = [
      [1, "1"],
      [0.5, "0.5"],
      [100000, "100000"],
      [1e6, "1e+06"],
      [1048576, "1.048576e+06"],
      [0.0001, "0.0001"],
      [0.00001, "1e-05"],
      [-0.25, "-0.25"],
      [Number.MAX_VALUE, "1.7976931348623157e+308"],
      [5e-324, "5e-324"],
      [Infinity, "+Inf"],
    ];
    for (const [value, text] of cases) expect(formatLe(value)).toBe(text);
  });
});
