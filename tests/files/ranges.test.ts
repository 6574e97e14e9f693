import { describe, expect, test } from "bun:test";
import { HttpError } from "@tarsd/sdk";
import { parseRange } from "../../lib/files/ranges.ts";

describe("parseRange", () => {
  test("no header or an ignorable one serves the whole file", () => {
    expect(parseRange(null, 100)).toBeNull();
    expect(parseRange("items=0-1", 100)).toBeNull();
    expect(parseRange("bytes=0-1,5-6", 100)).toBeNull();
    expect(parseRange("bytes=5-2", 100)).toBeNull();
  });

  test("closed, open-ended and suffix ranges", () => {
    expect(parseRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange("bytes=90-", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=90-1000", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-1000", 100)).toEqual({ start: 0, end: 99 });
  });

  test("unsatisfiable ranges are 416 with the real size", () => {
    for (const header of ["bytes=100-", "bytes=200-300", "bytes=-0"]) {
      let error: unknown;
      try {
        parseRange(header, 100);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(HttpError);
      expect((error as HttpError).status).toBe(416);
      expect((error as HttpError).headers["content-range"]).toBe("bytes */100");
    }
  });
});
