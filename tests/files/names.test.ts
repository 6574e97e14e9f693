import { describe, expect, test } from "bun:test";
import { DomainError } from "@tarsd/sdk";
import { validateName } from "../../lib/files/names.ts";

function reason(name: string): string {
  try {
    validateName(name);
    return "accepted";
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).kind).toBe("invalid_name");
    return (err as DomainError).message;
  }
}

describe("validateName", () => {
  test("accepts ordinary, spaced and unicode names", () => {
    for (
      const name of ["report.pdf", "a b c.txt", "naïve façade.md", "日本語.txt", "x", "a..b", "-dash", "a".repeat(255)]
    ) {
      expect(reason(name)).toBe("accepted");
    }
  });

  test("refuses separators, traversal, hidden names, control characters and overlong names", () => {
    expect(reason("")).toContain("missing");
    expect(reason("a/b")).toContain("'/'");
    expect(reason("a\\b")).toContain("'/'");
    expect(reason("..")).toContain("'.'");
    expect(reason(".bashrc")).toContain("'.'");
    expect(reason("a\u0000b")).toContain("control");
    expect(reason("a\nb")).toContain("control");
    expect(reason("a\u007fb")).toContain("control");
    expect(reason("a".repeat(256))).toContain("255 bytes");
    // 128 two-byte characters are 256 bytes: the limit is on bytes, as the filesystem counts.
    expect(reason("é".repeat(128))).toContain("255 bytes");
  });
});
