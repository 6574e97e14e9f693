// What a remote-write receiver remembers between requests, all of it in one object that the function
// owns (functions/remote-write.ts makes one; tests and benchmarks make their own):
//   - label sets by their raw protobuf bytes: Prometheus sends the same series every interval, so a
//     series seen before costs one map lookup instead of 2n string decodes (and a new ASCII one is
//     kept as its bytes and spans, its strings made only if asked for);
//   - with each label set, its line-protocol prefix (per duplicate-label policy), so the converter
//     escapes a series once, not on every request;
//   - the byte buffer conversions write into (reused: a conversion runs to its end without awaiting).
// Bound: `maxLabelSets` (default 50,000), far above the series the recording rules produce and far below
// APP 2/3's memory limit: 1,000,000 new series over 10 minutes kept a replica at 108-115 MiB RSS, peak
// 182 MiB (bench/remote-write-churn.ts). When full it starts over: more distinct series than that only
// means the cold rate, never wrong data.
// Lifetime: the receiver's (the process's).
import { ByteWriter } from "./byte-writer.ts";

/** `head` is the UTF-8 of `measurement,tag=value,... value=`: everything before the number. */
export type Prefix = { ok: true; head: Uint8Array } | { ok: false; reason: DropReason };

export const DROP_REASONS = [
  "stale",
  "nan",
  "inf",
  "missing_metric_name",
  "invalid_label_name",
  "duplicate_label",
  "label_conflict",
  "unencodable_label",
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

/**
 * A remembered label set: its raw bytes (`key`, one char per byte), where each name and value sits in
 * them (`spans`: flat [nameStart, nameEnd, valueStart, valueEnd, ...]), the strings (decoded when first
 * asked for: an ASCII set needs none to be converted), and its prefix once the converter made it.
 */
export class LabelMemo {
  skip?: Prefix;
  reject?: Prefix;
  private decoded: readonly string[] | undefined;

  constructor(
    readonly key: string,
    readonly spans: readonly number[],
    /** Every byte below 0x80: each string is its bytes, and the converter may work on them directly. */
    readonly ascii: boolean,
    decoded?: readonly string[],
  ) {
    this.decoded = decoded;
  }

  /** Flat name/value pairs in the order received. Shared: never mutate. */
  get labels(): readonly string[] {
    if (this.decoded === undefined) {
      const labels: string[] = [];
      for (let i = 0; i < this.spans.length; i += 2) {
        labels.push(this.key.substring(this.spans[i]!, this.spans[i + 1]!));
      }
      this.decoded = labels;
    }
    return this.decoded;
  }
}

export class SeriesMemory {
  private readonly labelSets = new Map<string, LabelMemo>();
  readonly writer = new ByteWriter(256 * 1024);

  constructor(readonly maxLabelSets = 50_000) {}

  /** The memo for a label set's raw bytes (`key`), made by `make` the first time. */
  labelSet(key: string, make: () => LabelMemo): LabelMemo {
    let memo = this.labelSets.get(key);
    if (memo === undefined) {
      memo = make();
      if (this.labelSets.size >= this.maxLabelSets) this.labelSets.clear(); // churn: start over, stay bounded
      this.labelSets.set(key, memo);
    }
    return memo;
  }

  get size(): number {
    return this.labelSets.size;
  }
}
