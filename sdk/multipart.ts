// multipart/form-data (and urlencoded) parsing. `request.formData()` buffers the whole body, so a big
// form goes through busboy, the well-kept parser behind multer and fastify: its file parts are handed
// out as streams that busboy fills as the body arrives, and memory stays bounded whatever the upload
// size. A form of declared length up to IN_MEMORY_FORM_BYTES, with the plain media type clients send,
// is read in one native call instead: its parts are found by form-framing.ts (a file part is then one
// view of that buffer, written to disk without another copy), or, when the body is not of the plain
// shape, by busboy reading that buffer.
// preservePath: a file name is validated as sent (a "dir\\name" is refused, not silently cut).
// `formField`, for forms read only for one text field (POST /download), parses a small form with the
// platform's native FormData instead.
import busboy from "busboy";
import { Readable } from "node:stream";
import { bodyCutOff } from "./body.ts";
import { Buffer } from "node:buffer";
import { HttpError } from "./errors.ts";
import { frameForm, plainBoundary } from "./form-framing.ts";

export type Part =
  | { kind: "file"; field: string; filename: string; stream: AsyncIterable<Uint8Array> }
  | { kind: "field"; field: string; value: string };

/** A text field of this many bytes or more is refused (413): busboy counts one that reaches it as cut. */
export const MAX_FIELD_BYTES = 64 * 1024;

/** Room for the framing around a file of exactly the size limit: boundaries, part headers, other fields. */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/** Forms up to this size are read whole (at most this much memory per request in flight). */
export const IN_MEMORY_FORM_BYTES = 4 * 1024 * 1024;

/**
 * Yields the parts of a form body in order. A file part's stream must be consumed (or abandoned
 * by ending the iteration) before the next part arrives; that is what keeps memory bounded.
 */
export async function* formParts(request: Request): AsyncGenerator<Part> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!request.body) throw noBody();
  const boundary = plainBoundary(contentType);
  if (boundary === undefined || !readWhole(request)) return yield* busboyParts(contentType, request.body);
  const body = Buffer.from(await wholeBody(request));
  const framed = frameForm(body, boundary, MAX_FIELD_BYTES);
  if (framed === undefined) return yield* busboyParts(contentType, body);
  for (const part of framed) yield part.kind === "file" ? { ...part, stream: once(part.bytes) } : part;
}

/** busboy's parts of a form: streamed as the body arrives, or from a body read whole. */
export async function* busboyParts(
  contentType: string,
  body: ReadableStream<Uint8Array> | Buffer,
): AsyncGenerator<Part> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { "content-type": contentType },
      limits: { fieldSize: MAX_FIELD_BYTES },
      defParamCharset: "utf8",
      preservePath: true,
    });
  } catch {
    throw notAForm(contentType);
  }

  const queue: Part[] = [];
  let finished = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };

  parser.on("file", (field, stream, info) => {
    queue.push({
      kind: "file",
      field,
      filename: info.filename ?? "",
      stream: cutOffAsClientError(stream, () => failure),
    });
    notify();
  });
  parser.on("field", (field, value, info) => {
    if (info.valueTruncated) {
      failure ??= fieldTooLarge(field);
    }
    queue.push({ kind: "field", field, value });
    notify();
  });
  parser.on("close", () => {
    finished = true;
    notify();
  });
  parser.on("error", (err: Error) => {
    failure ??= new HttpError(400, `malformed form body: ${err.message}`);
    notify();
  });

  let source: Readable | undefined;
  if (Buffer.isBuffer(body)) {
    parser.end(body);
  } else {
    source = Readable.fromWeb(body as never);
    source.on("error", (err) => {
      failure ??= bodyCutOff(err); // Client went away mid-body.
      parser.destroy(err);
      notify();
    });
    source.pipe(parser);
  }

  try {
    while (true) {
      if (failure) throw failure;
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (finished) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    // Drop the rest of the body; abandoned file streams must not stall the parser.
    source?.unpipe(parser);
    source?.destroy();
  }
}

/** A framed file's bytes as a part's stream (none for an empty file, as busboy's). */
async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  if (bytes.byteLength > 0) yield bytes;
}

/**
 * The first text field named `field` of a form (file parts are passed over), or undefined. A form
 * read whole (declared length up to IN_MEMORY_FORM_BYTES) is parsed by the platform's own FormData
 * parser: native, where busboy's per-request setup of streams and events was most of the time of a
 * small form (bench/NOTES.md). Only for text fields: the platform's parser reads file names more loosely than
 * busboy (a `\"` stays as sent, a `filename*` part is taken for a text field), so files go through
 * `formParts`.
 */
export async function formField(request: Request, field: string): Promise<string | undefined> {
  if (!readWhole(request)) {
    for await (const part of formParts(request)) {
      if (part.kind === "field" && part.field === field) return part.value;
      // A file part is read through: the parser moves on to the next part only then.
      if (part.kind === "file") { for await (const _ of part.stream); }
    }
    return undefined;
  }
  const contentType = request.headers.get("content-type") ?? "";
  if (!request.body) throw noBody();
  if (!FORM_TYPE.test(contentType)) throw notAForm(contentType);
  const whole = await wholeBody(request);
  let form: FormData;
  try {
    form = await new Response(whole, { headers: { "content-type": contentType } }).formData();
  } catch (err) {
    throw new HttpError(400, `malformed form body: ${(err as Error).message}`);
  }
  const value = form.getAll(field).find((entry) => typeof entry === "string");
  if (value !== undefined && Buffer.byteLength(value) > MAX_FIELD_BYTES) throw fieldTooLarge(field);
  return value;
}

/** Whether the form is small enough to be read whole (its declared length is known and small). */
const readWhole = (request: Request) =>
  Number(request.headers.get("content-length") ?? Number.NaN) <= IN_MEMORY_FORM_BYTES;

async function wholeBody(request: Request): Promise<ArrayBuffer> {
  try {
    return await request.arrayBuffer();
  } catch (err) {
    throw bodyCutOff(err); // client went away mid-body
  }
}

/** The media types busboy parses (it also needs a multipart boundary, which the parsers check). */
const FORM_TYPE = /^\s*(multipart\/form-data|application\/x-www-form-urlencoded)\s*(;|$)/i;

const noBody = () => new HttpError(400, "request has no body; expected a form (multipart/form-data)");

const notAForm = (contentType: string) =>
  new HttpError(
    400,
    `expected a multipart/form-data or urlencoded form, got content-type ${JSON.stringify(contentType)}`,
  );

const fieldTooLarge = (field: string) =>
  new HttpError(413, `form field ${JSON.stringify(field)} is over ${MAX_FIELD_BYTES} bytes`);

/** A file part breaks when the body does; report why (body cut off, malformed) as a 4xx. */
async function* cutOffAsClientError(
  stream: AsyncIterable<Uint8Array>,
  cause: () => unknown,
): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of stream) yield chunk;
  } catch (err) {
    throw bodyCutOff(cause() ?? err);
  }
}
