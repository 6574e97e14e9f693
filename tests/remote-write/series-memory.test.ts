// The receiver's memory: one object, owned by whoever decodes, bounded, and the only state shared
// between requests (the decoder and the converter keep none of their own).
import { expect, test } from "bun:test";
import { toLineProtocol } from "../../lib/remote-write/convert.ts";
import { parseMessage } from "../../lib/remote-write/decode.ts";
import { SeriesMemory } from "../../lib/remote-write/series-memory.ts";
import { encodeV1 } from "../../harness/remote-write-requests.ts";

const message = (name: string) =>
  encodeV1([{ labels: [["__name__", name], ["job", "node"]], samples: [{ value: 1, timestamp: 1 }] }]);

test("a label set seen before is the same memo, with its prefix made once", () => {
  const memory = new SeriesMemory();
  const [first] = parseMessage(message("up"), 1, memory).series;
  toLineProtocol([first!], { duplicateLabels: "skip" }, memory);
  const [again] = parseMessage(message("up"), 1, memory).series;
  expect(again!.memo).toBe(first!.memo!);
  expect(again!.memo!.skip).toEqual({ ok: true, head: new TextEncoder().encode("up,job=node value=") });
  expect(memory.size).toBe(1);
});

test("separate memories share nothing", () => {
  const a = new SeriesMemory();
  const b = new SeriesMemory();
  const [fromA] = parseMessage(message("up"), 1, a).series;
  const [fromB] = parseMessage(message("up"), 1, b).series;
  expect(fromA!.memo).not.toBe(fromB!.memo!);
  expect(b.size).toBe(1);
});

test("bounded: past maxLabelSets it starts over, and still decodes right", () => {
  const memory = new SeriesMemory(3);
  for (const name of ["a", "b", "c", "d"]) parseMessage(message(name), 1, memory).series;
  expect(memory.size).toBe(1);
  const [d] = parseMessage(message("d"), 1, memory).series;
  expect(d!.labels).toEqual(["__name__", "d", "job", "node"]);
  const lines = new TextDecoder().decode(toLineProtocol([d!], { duplicateLabels: "skip" }, memory).body);
  expect(lines).toBe("d,job=node value=1 1\n");
});
