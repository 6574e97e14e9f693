// HTTP Range requests (RFC 9110 §14) for a single byte range; several ranges get the whole file,
// which the RFC allows. An unsatisfiable range is a 416 carrying the real size.
import { HttpError } from "@tarsd/sdk";

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/** null: serve the whole file (no header, or a header we may ignore). */
export function parseRange(header: string | null, size: number): ByteRange | null {
  if (header === null) return null;
  const match = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim());
  if (!match) return null; // Unknown units or several ranges: ignoring Range is allowed.
  const [, first, last] = match as unknown as [string, string, string];
  let start: number;
  let end: number;
  if (first === "" && last === "") return null;
  if (first === "") {
    // Suffix range: the last N bytes.
    const suffix = Number(last);
    if (suffix === 0) throw unsatisfiable(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(first);
    end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
    if (last !== "" && Number(last) < start) return null; // Syntactically invalid: ignore.
  }
  if (start >= size || size === 0) throw unsatisfiable(size);
  return { start, end };
}

function unsatisfiable(size: number): HttpError {
  return new HttpError(416, `range not satisfiable for a file of ${size} bytes`, {
    "content-range": `bytes */${size}`,
  });
}
