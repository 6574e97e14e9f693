// The parts of a multipart/form-data body that is in memory already, for the plain shape that curl -F,
// browsers and FormData send: a boundary opening the body, part headers of simple lines, a
// Content-Disposition of `form-data; name="…"` and maybe `; filename="…"`, and the closing boundary.
// The delimiters are found with the platform's native byte search (Buffer.indexOf) and a file's bytes
// are handed on as one view of the body, where busboy walks every byte in JavaScript (bench/NOTES.md).
//
// Anything else gets `undefined`, and the caller gives the body to busboy: a preamble, a header that
// does not parse as one plain line, an escape or a `filename*` in the disposition, an empty name or
// file name, a field without a file name but with a Content-Type (busboy may take it for a file), a
// field at or over the size limit (busboy marks it cut), a body without its closing boundary, an
// epilogue holding the delimiter (busboy frames parts after the end when they come in one chunk). So
// busboy stays the one authority on what an unusual or malformed form means;
// tests/runtime/form-framing.test.ts checks that every form framed here gives exactly busboy's parts.
import { Buffer } from "node:buffer";

export type FramedPart =
  | { kind: "file"; field: string; filename: string; bytes: Uint8Array }
  | { kind: "field"; field: string; value: string };

/** The media type with its boundary as the only parameter: a token, or quoted without escapes. */
const PLAIN_FORM_TYPE =
  /^multipart\/form-data;[ \t]*boundary=(?:"([0-9A-Za-z'()+_,\-./:=?]{1,70})"|([0-9A-Za-z'+_\-.]{1,70}))$/i;
/** One part header: a token, a colon, a value of visible characters (busboy's own byte classes). */
// deno-lint-ignore no-control-regex
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*)$/;
/** The disposition as curl, browsers and FormData write it (decoded as latin1: one char per byte). */
const DISPOSITION = /^form-data; name="([^"\\]+)"(?:; filename="([^"\\]+)")?$/;
/** More header bytes than this in one part is far from the plain shape (busboy refuses over 16 KiB). */
const MAX_HEADER_BYTES = 8 * 1024;
const MAX_HEADER_LINES = 16;

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const CRLF = new Uint8Array([CR, LF]);

/** The boundary of a form's media type when it is the plain shape (see above); otherwise undefined. */
export function plainBoundary(contentType: string): string | undefined {
  const type = PLAIN_FORM_TYPE.exec(contentType);
  return type ? type[1] ?? type[2] : undefined;
}

/**
 * The parts of `body` in order, or undefined when it is not the plain shape (see above) and busboy
 * is to read it. `boundary` is the form's (`plainBoundary`); a field's value must be shorter than
 * `maxFieldBytes`.
 */
export function frameForm(body: Buffer, boundary: string, maxFieldBytes: number): FramedPart[] | undefined {
  const delimiter = new TextEncoder().encode(`\r\n--${boundary}`);
  // The body opens with the first boundary (busboy reads the body as if a CRLF came before it).
  const opening = delimiter.byteLength - 2;
  if (body.byteLength < opening || body.compare(delimiter, 2, delimiter.byteLength, 0, opening) !== 0) return undefined;

  const parts: FramedPart[] = [];
  for (let afterBoundary = opening;;) {
    // A boundary is followed by "--" (the end: what comes after is ignored) or by CRLF and a part.
    // busboy goes on framing parts after the end when they are in the same chunk (as a whole body
    // is): an epilogue holding the delimiter is left to it.
    if (body[afterBoundary] === DASH && body[afterBoundary + 1] === DASH) {
      return body.indexOf(delimiter, afterBoundary) === -1 ? parts : undefined;
    }
    if (body[afterBoundary] !== CR || body[afterBoundary + 1] !== LF) return undefined;
    const start = afterBoundary + 2;
    // Searched from the boundary's end, as busboy does: a delimiter made of that CRLF is found too.
    const end = body.indexOf(delimiter, afterBoundary);
    if (end < start) return undefined; // no closing boundary, or a part without headers

    const headers = partHeaders(body, start, end);
    if (!headers) return undefined;
    const { disposition, hasContentType, contentStart } = headers;
    const names = DISPOSITION.exec(disposition);
    if (!names) return undefined;
    const field = utf8OfLatin1(names[1]!);
    if (names[2] !== undefined) {
      parts.push({ kind: "file", field, filename: utf8OfLatin1(names[2]), bytes: body.subarray(contentStart, end) });
    } else {
      if (hasContentType || end - contentStart >= maxFieldBytes) return undefined;
      parts.push({ kind: "field", field, value: body.toString("utf8", contentStart, end) });
    }
    afterBoundary = end + delimiter.byteLength;
  }
}

/** The part's headers (lines up to a blank one, all before `end`), or undefined if not plain. */
function partHeaders(body: Buffer, start: number, end: number) {
  let disposition: string | undefined;
  let hasContentType = false;
  let lines = 0;
  for (let pos = start;;) {
    const eol = body.indexOf(CRLF, pos);
    if (eol === -1 || eol >= end || eol - start > MAX_HEADER_BYTES) return undefined;
    if (eol === pos) {
      if (disposition === undefined) return undefined;
      return { disposition, hasContentType, contentStart: eol + 2 };
    }
    if (++lines > MAX_HEADER_LINES) return undefined;
    const header = HEADER_LINE.exec(body.toString("latin1", pos, eol));
    if (!header) return undefined;
    const name = header[1]!.toLowerCase();
    if (name === "content-disposition") {
      if (disposition !== undefined) return undefined;
      disposition = header[2]!;
    } else if (name === "content-type") {
      if (hasContentType) return undefined;
      hasContentType = true;
    }
    pos = eol + 2;
  }
}

/** Header bytes were read one char per byte; names and file names are UTF-8 (busboy's defParamCharset). */
function utf8OfLatin1(text: string): string {
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text, "latin1").toString("utf8");
}
