// Differential fuzzing of the hand-written remote-write wire parsers (lib/remote-write/parse-v1.ts, parse-v2.ts)
// against a reference built from the .proto files alone:
//   1. a schema-driven structure check (protobufjs reflection): every field of a known number has a
//      wire type its declared type allows (repeated numbers also packed), every length stays inside
//      its message, every nested message ends exactly where its length says, field 0 is refused
//      (the rules Prometheus' gogo-generated decoder enforces);
//   2. protobufjs' own decoder of the same messages (strings must be valid UTF-8, as proto3 says),
//      with doubles of a Sample read as their raw 64 bits (so a staleness marker's NaN payload is seen);
//   3. the same resolution rules for 2.0 symbol references.
// Both sides are normalised to one plain shape; a body is fine when both refuse it or both give the
// same shape. Seeded mutations start from real bodies: byte flips, overwrites, inserts, deletes,
// truncations and splices.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import protobuf from "protobufjs";
import { decompress, parseMessage } from "../lib/remote-write/decode.ts";
import { encodeV2, STALE } from "./remote-write-requests.ts";
import { REPO_ROOT } from "./binaries.ts";
import { tempDir } from "./runtime-process.ts";
import { PROTO_DIR } from "./remote-write-schema.ts";
const STALE_BITS = 0x7ff0000000000002n;

// ---- the reference ---------------------------------------------------------------------------

let reference: { v1: protobuf.Type; v2: protobuf.Type } | undefined;

/** The schema of record with each Sample's `double value` read as `fixed64` bits. */
function referenceTypes(): { v1: protobuf.Type; v2: protobuf.Type } {
  if (reference) return reference;
  const dir = tempDir("tarsd-fuzz-proto-");
  for (const file of ["remote.proto", "types.proto", "io/prometheus/write/v2/types.proto"]) {
    const text = readFileSync(join(PROTO_DIR, file), "utf8").replace(
      /(message Sample \{[^}]*?)double(\s+value\s*=\s*1;)/,
      "$1fixed64$2",
    );
    mkdirSync(join(dir, file, ".."), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  const root = protobuf.loadSync([join(dir, "remote.proto"), join(dir, "io/prometheus/write/v2/types.proto")]);
  root.resolveAll();
  reference = {
    v1: root.lookupType("prometheus.WriteRequest"),
    v2: root.lookupType("io.prometheus.write.v2.Request"),
  };
  return reference;
}

const WIRE: Record<string, number> = {
  double: 1,
  fixed64: 1,
  sfixed64: 1,
  float: 5,
  fixed32: 5,
  sfixed32: 5,
  int32: 0,
  int64: 0,
  uint32: 0,
  uint64: 0,
  sint32: 0,
  sint64: 0,
  bool: 0,
  string: 2,
  bytes: 2,
};

/** Throws where the structure does not hold (see the header); returns nothing. */
function checkStructure(buf: Uint8Array, start: number, end: number, type: protobuf.Type): void {
  const r = protobuf.Reader.create(buf);
  r.pos = start;
  r.len = end;
  while (r.pos < end) {
    const tag = r.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    if (id === 0) throw new RangeError("field 0");
    const field = type.fieldsById[id];
    if (!field) {
      r.skipType(wire);
      continue;
    }
    field.resolve();
    const message = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    const scalar = message ? 2 : field.resolvedType instanceof protobuf.Enum ? 0 : WIRE[field.type];
    if (wire === scalar && !message) {
      r.skipType(wire);
    } else if (wire === 2 && (message || (field.repeated && scalar !== 2))) {
      const length = r.uint32();
      const subEnd = r.pos + length;
      if (subEnd > end) throw new RangeError("length beyond its message");
      if (message) checkStructure(buf, r.pos, subEnd, message);
      else {
        const inner = protobuf.Reader.create(buf);
        inner.pos = r.pos;
        inner.len = subEnd;
        while (inner.pos < subEnd) inner.skipType(scalar!);
        if (inner.pos !== subEnd) throw new RangeError("packed values overrun");
      }
      r.pos = subEnd;
    } else {
      throw new RangeError(`field ${id} with wire type ${wire}`);
    }
  }
  if (r.pos !== end) throw new RangeError("message overruns");
}

type Plain = Record<string, unknown>;
const unsigned = (v: unknown) => {
  if (typeof v === "object" && v !== null) {
    const long = v as { low: number; high: number };
    return (BigInt(long.high >>> 0) << 32n) | BigInt(long.low >>> 0);
  }
  return BigInt.asUintN(64, BigInt(Math.trunc(Number(v))));
};
/** A double in a comparable form: NaN, -0 and the rest. */
const double = (v: number) => (Number.isNaN(v) ? "NaN" : Object.is(v, -0) ? "-0" : v);
const longNumber = (v: unknown) => {
  if (typeof v === "object" && v !== null) return (v as { toNumber(): number }).toNumber();
  return Number(v ?? 0);
};
const RESET = ["unknown", "yes", "no", "gauge"];
const TYPES = ["unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset"];

function sampleFromBits(bits: unknown) {
  const raw = unsigned(bits);
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, raw, true);
  const value = view.getFloat64(0, true);
  return { stale: raw === STALE_BITS, value: double(value) };
}

function histogramPlain(h: Plain) {
  const counts = (deltas: unknown[] | undefined, counts: unknown[] | undefined) => {
    if (deltas && deltas.length > 0) {
      let c = 0;
      return deltas.map((d) => double(c += longNumber(d)));
    }
    return (counts ?? []).map((c) => double(c as number));
  };
  const spans = (s: Plain[] | undefined) => (s ?? []).map((x) => ({ offset: x.offset ?? 0, length: x.length ?? 0 }));
  return {
    timestamp: longNumber(h.timestamp),
    float: h.count === "countFloat",
    count: h.count === "countFloat" ? double(h.countFloat as number) : double(longNumber(h.countInt)),
    sum: double((h.sum as number) ?? 0),
    schema: h.schema ?? 0,
    zeroThreshold: double((h.zeroThreshold as number) ?? 0),
    zeroCount: h.zeroCount === "zeroCountFloat"
      ? double(h.zeroCountFloat as number)
      : double(longNumber(h.zeroCountInt)),
    resetHint: RESET[(h.resetHint as number) ?? 0] ?? "unknown",
    negativeSpans: spans(h.negativeSpans as Plain[]),
    negative: counts(h.negativeDeltas as unknown[], h.negativeCounts as unknown[]),
    positiveSpans: spans(h.positiveSpans as Plain[]),
    positive: counts(h.positiveDeltas as unknown[], h.positiveCounts as unknown[]),
    customValues: ((h.customValues as number[]) ?? []).map(double),
  };
}

/** The reference decoding, in the plain shape; throws when the body is refused. */
function referenceDecode(message: Uint8Array, version: 1 | 2): Plain {
  const types = referenceTypes();
  const type = version === 1 ? types.v1 : types.v2;
  checkStructure(message, 0, message.length, type);
  const decoded = type.decode(message);
  const request = type.toObject(decoded, { oneofs: true, defaults: false, arrays: true }) as Plain;
  if (version === 1) {
    const series = (request.timeseries as Plain[]).map((ts) => ({
      labels: (ts.labels as Plain[]).flatMap((l) => [l.name ?? "", l.value ?? ""]),
      samples: (ts.samples as Plain[]).map((s) => ({
        ...sampleFromBits(s.value ?? 0),
        timestamp: longNumber(s.timestamp),
      })),
      histograms: (ts.histograms as Plain[]).map(histogramPlain),
      exemplars: (ts.exemplars as Plain[]).map((e) => ({
        labels: ((e.labels as Plain[]) ?? []).flatMap((l) => [l.name ?? "", l.value ?? ""]),
        value: double((e.value as number) ?? 0),
        timestamp: longNumber(e.timestamp),
      })),
    }));
    const metadata = (request.metadata as Plain[]).map((m) => ({
      type: TYPES[(m.type as number) ?? 0] ?? "unknown",
      metricFamilyName: m.metricFamilyName ?? "",
      help: m.help ?? "",
      unit: m.unit ?? "",
    }));
    return { series, metadata };
  }
  const symbols = (request.symbols as string[]) ?? [];
  const symbol = (ref: number) => {
    if (ref >= symbols.length) throw new RangeError(`reference ${ref} outside symbols`);
    return symbols[ref]!;
  };
  const pairs = (refs: number[]) => {
    if (refs.length % 2 !== 0) throw new RangeError("odd labels_refs");
    return refs.map(symbol);
  };
  const series = ((request.timeseries as Plain[]) ?? []).map((ts) => {
    const plain: Plain = {
      labels: pairs((ts.labelsRefs as number[]) ?? []),
      samples: ((ts.samples as Plain[]) ?? []).map((s) => ({
        ...sampleFromBits(s.value ?? 0),
        timestamp: longNumber(s.timestamp),
      })),
      histograms: ((ts.histograms as Plain[]) ?? []).map(histogramPlain),
      exemplars: ((ts.exemplars as Plain[]) ?? []).map((e) => ({
        labels: pairs((e.labelsRefs as number[]) ?? []),
        value: double((e.value as number) ?? 0),
        timestamp: longNumber(e.timestamp),
      })),
    };
    if (ts.metadata) {
      const m = ts.metadata as Plain;
      plain.metadata = {
        type: TYPES[(m.type as number) ?? 0] ?? "unknown",
        help: symbol((m.helpRef as number) ?? 0),
        unit: symbol((m.unitRef as number) ?? 0),
      };
    }
    return plain;
  });
  return { series, metadata: [] };
}

/** The receiver's decoding, in the same plain shape; throws when it refuses the body. */
function receiverDecode(message: Uint8Array, version: 1 | 2): Plain {
  const parsed = parseMessage(message, version);
  return {
    series: parsed.series.map((s) => {
      const plain: Plain = {
        labels: [...s.labels],
        samples: s.samples.map((x) => ({ stale: x.stale, value: double(x.value), timestamp: x.timestamp })),
        histograms: s.histograms.map((h) => ({
          ...h,
          count: double(h.count),
          sum: double(h.sum),
          zeroThreshold: double(h.zeroThreshold),
          zeroCount: double(h.zeroCount),
          negative: h.negative.map(double),
          positive: h.positive.map(double),
          customValues: h.customValues.map(double),
        })),
        exemplars: s.exemplars.map((e) => ({ labels: e.labels, value: double(e.value), timestamp: e.timestamp })),
      };
      if (s.metadata) plain.metadata = s.metadata;
      return plain;
    }),
    metadata: parsed.metadata,
  };
}

type Verdict = { agree: true; accepted: boolean } | { agree: false; detail: string };

/** Both decoders on one body: both refuse, or both give the same shape. */
export function compareDecoders(message: Uint8Array, version: 1 | 2): Verdict {
  let ours: Plain | Error;
  let theirs: Plain | Error;
  try {
    ours = receiverDecode(message, version);
  } catch (err) {
    ours = err as Error;
  }
  try {
    theirs = referenceDecode(message, version);
  } catch (err) {
    theirs = err as Error;
  }
  if (ours instanceof Error && theirs instanceof Error) return { agree: true, accepted: false };
  if (ours instanceof Error || theirs instanceof Error) {
    return {
      agree: false,
      detail: ours instanceof Error
        ? `receiver refused (${ours.message}), reference accepted`
        : `reference refused (${(theirs as Error).message}), receiver accepted`,
    };
  }
  const a = JSON.stringify(ours, replacer);
  const b = JSON.stringify(theirs, replacer);
  return a === b
    ? { agree: true, accepted: true }
    : { agree: false, detail: `receiver ${a.slice(0, 600)}\nreference ${b.slice(0, 600)}` };
}

const replacer = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);

// ---- seeds and mutations ---------------------------------------------------------------------

const FIXTURES = join(REPO_ROOT, "tests", "fixtures", "remote-write");

/** The real bodies mutations start from: 1.0 (a captured Prometheus request, Prometheus-built histograms) and 2.0. */
export function seedBodies(): { v1: Uint8Array[]; v2: Uint8Array[] } {
  const captured = decompress(
    new Uint8Array(readFileSync(join(FIXTURES, "prometheus-2.42-v1-request.snappy"))),
    1 << 26,
  );
  const cases = JSON.parse(readFileSync(join(FIXTURES, "native-histograms", "cases.json"), "utf8")) as {
    version: 1 | 2;
    message_base64: string;
  }[];
  const fromCases = (version: 1 | 2) =>
    cases.filter((c) => c.version === version).map((c) => new Uint8Array(Buffer.from(c.message_base64, "base64")));
  const built = encodeV2([
    {
      labels: [["__name__", "http_requests_total"], ["code", "200"], ["ünï", "😀 ,=\\"]],
      samples: [{ value: 1.5, timestamp: 1_700_000_000_000 }, { value: STALE, timestamp: 1_700_000_015_000 }],
      exemplars: 2,
    },
    { labels: [["__name__", "h"]], histograms: 2 },
    { labels: [["job", "no-name"]], samples: [{ value: NaN, timestamp: -1 }] },
  ]);
  return { v1: [captured, ...fromCases(1)], v2: [built, ...fromCases(2)] };
}

/** xorshift32: small, fast and reproducible from a seed. */
export function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const INTERESTING = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x08, 0x09, 0x10, 0x1a, 0x22];

/** One to three mutations of a body; `others` are the seeds splices take their second half from. */
export function mutate(body: Uint8Array, others: Uint8Array[], rnd: () => number): Uint8Array {
  let out = body.slice();
  const rounds = 1 + Math.floor(rnd() * 3);
  const at = () => Math.floor(rnd() * Math.max(out.length, 1));
  for (let i = 0; i < rounds; i++) {
    const op = Math.floor(rnd() * 7);
    if ((out.length === 0 && op !== 5) || (op === 6 && others.length === 0)) continue;
    if (op === 0) out[at()]! ^= 1 << Math.floor(rnd() * 8); // bit flip
    else if (op === 1) out[at()] = Math.floor(rnd() * 256); // random byte
    else if (op === 2) out[at()] = INTERESTING[Math.floor(rnd() * INTERESTING.length)]!;
    else if (op === 3) out = out.slice(0, at()); // truncate
    else if (op === 4) { // delete a run
      const from = at();
      out = new Uint8Array([...out.subarray(0, from), ...out.subarray(from + 1 + Math.floor(rnd() * 8))]);
    } else if (op === 5) { // insert bytes
      const from = at();
      const inserted = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => Math.floor(rnd() * 256));
      out = new Uint8Array([...out.subarray(0, from), ...inserted, ...out.subarray(from)]);
    } else { // splice with another body
      const other = others[Math.floor(rnd() * others.length)]!;
      const cut = Math.floor(rnd() * other.length);
      out = new Uint8Array([...out.subarray(0, at()), ...other.subarray(cut)]);
    }
  }
  return out;
}

// ---- a bounded run ---------------------------------------------------------------------------

export interface FuzzRun {
  /** Rounds asked for. */
  planned: number;
  /** Rounds actually run: `planned` unless the deadline stopped the run first. */
  rounds: number;
  /** Bodies both decoders accepted, identically. */
  accepted: number;
  /** `#<round> v<version> <base64 body>: <detail>`, one per disagreement. */
  disagreements: string[];
  elapsedMs: number;
  /** The deadline stopped the run before `planned` rounds: the run is incomplete, never a pass. */
  deadlineHit: boolean;
}

/**
 * `rounds` mutated bodies from `random(seed)`, each through both decoders (`compareDecoders`), stopping
 * early only at `deadlineMs` (a guard against a slow machine hanging CI, reported as `deadlineHit`).
 */
export function fuzzRounds(
  options: { seed: number; rounds: number; deadlineMs: number; seeds?: { v1: Uint8Array[]; v2: Uint8Array[] } },
): FuzzRun {
  const seeds = options.seeds ?? seedBodies();
  const rnd = random(options.seed);
  const started = performance.now();
  const deadline = started + options.deadlineMs;
  const disagreements: string[] = [];
  let accepted = 0;
  let rounds = 0;
  while (rounds < options.rounds && performance.now() < deadline) {
    const version = rnd() < 0.5 ? 1 : 2;
    const pool = version === 1 ? seeds.v1 : seeds.v2;
    const body = mutate(pool[Math.floor(rnd() * pool.length)]!, pool, rnd);
    const verdict = compareDecoders(body, version);
    if (!verdict.agree) {
      disagreements.push(`#${rounds} v${version} ${Buffer.from(body).toString("base64")}: ${verdict.detail}`);
    } else if (verdict.accepted) accepted++;
    rounds++;
  }
  return {
    planned: options.rounds,
    rounds,
    accepted,
    disagreements,
    elapsedMs: performance.now() - started,
    deadlineHit: rounds < options.rounds,
  };
}
