// The tus 1.0 resumable upload protocol (https://tus.io/protocols/resumable-upload), core plus the
// creation and termination extensions, as routes a function mounts: the headers, their checks and
// the answers. Where the bytes go is the storage's business (TusStorage), so this knows no files.
//   OPTIONS /uploads        what this server speaks (Tus-Version, Tus-Extension, Tus-Max-Size)
//   POST    /uploads        creation: Upload-Length, Upload-Metadata `filename <base64>` -> 201 Location
//   HEAD    /uploads/:id    Upload-Offset and Upload-Length: where to resume
//   PATCH   /uploads/:id    application/offset+octet-stream at Upload-Offset -> 204, new Upload-Offset
//   DELETE  /uploads/:id    termination
// Every answer carries Tus-Resumable; a request without `Tus-Resumable: 1.0.0` is refused with 412.
import { bodyChunks, errorOf, HttpError, type Route } from "@tarsd/sdk";

const TUS_VERSION = "1.0.0";
const TUS_EXTENSIONS = "creation,termination";
const OFFSET_OCTET_STREAM = "application/offset+octet-stream";

export interface TusUpload {
  id: string;
  offset: number;
  length: number;
  filename: string;
}

/**
 * Where uploads live: errors it throws (not found, conflict, busy, a body past the upload's length,
 * full) are answered as they map. The largest upload is the protocol's to refuse (Tus-Max-Size).
 */
export interface TusStorage {
  create(length: number, filename: string): Promise<TusUpload>;
  status(id: string): Promise<TusUpload>;
  append(id: string, offset: number, body: AsyncIterable<Uint8Array>, declaredBytes?: number): Promise<TusUpload>;
  terminate(id: string): Promise<void>;
}

export interface TusOptions {
  /** Where uploads are created; each one is at `${path}/<id>`. */
  path: string;
  storage: TusStorage;
  /** The largest upload (Tus-Max-Size): a larger Upload-Length is refused (413); also the PATCH body limit. */
  maxSize: number;
}

const DIGITS = /^\d{1,16}$/;
const METADATA_KEY = /^[^\s,]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** `Upload-Metadata: key base64,key2 base64,flag`: each value decoded as UTF-8, strictly. */
function parseMetadata(header: string | null): Map<string, string> {
  const metadata = new Map<string, string>();
  if (header === null || header.trim() === "") return metadata;
  for (const pair of header.split(",")) {
    const [key, value, ...rest] = pair.trim().split(" ");
    if (!key || !METADATA_KEY.test(key) || rest.length > 0) {
      throw new HttpError(400, `Upload-Metadata: ${JSON.stringify(pair)} is not "key base64value"`);
    }
    if (metadata.has(key)) throw new HttpError(400, `Upload-Metadata: ${key} is given twice`);
    if (value !== undefined && !BASE64.test(value)) {
      throw new HttpError(400, `Upload-Metadata: the value of ${key} is not base64`);
    }
    let decoded = "";
    try {
      decoded = new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.from(atob(value ?? ""), (c) => c.charCodeAt(0)),
      );
    } catch {
      throw new HttpError(400, `Upload-Metadata: the value of ${key} is not UTF-8`);
    }
    metadata.set(key, decoded);
  }
  return metadata;
}

function encodeMetadata(key: string, value: string): string {
  return `${key} ${btoa(String.fromCharCode(...new TextEncoder().encode(value)))}`;
}

/** A non-negative integer header, required. */
function integerHeader(request: Request, name: string): number {
  const value = request.headers.get(name);
  if (value === null) throw new HttpError(400, `${name} is required`);
  if (!DIGITS.test(value.trim())) throw new HttpError(400, `${name} must be a non-negative integer`);
  return Number(value.trim());
}

function requireTusResumable(request: Request): void {
  const version = request.headers.get("tus-resumable");
  if (version?.trim() !== TUS_VERSION) {
    throw new HttpError(
      412,
      version === null
        ? "Tus-Resumable is missing: this server speaks tus 1.0.0"
        : `tus version ${version} is not supported`,
      { "tus-version": TUS_VERSION },
    );
  }
}

function uploadHeaders(upload: TusUpload): Record<string, string> {
  return { "upload-offset": String(upload.offset), "cache-control": "no-store" };
}

// --- OpenAPI: the protocol's headers as parameters, so the API fuzzer sends (and breaks) them ------

const tusResumableParam = {
  name: "Tus-Resumable",
  in: "header",
  required: true,
  schema: { type: "string", enum: [TUS_VERSION] },
  description: "The protocol version; anything else is refused with 412",
};
const idParam = {
  name: "id",
  in: "path",
  required: true,
  schema: { type: "string" },
  description: "The upload's id, from the Location of its creation",
};
const intHeader = (description: string) => ({ schema: { type: "string", pattern: "^[0-9]{1,16}$" }, description });
const wrongVersion = errorOf("Tus-Resumable missing or not 1.0.0");
const noUpload = errorOf("No such upload (never created, terminated, or expired)");
const withTus = (description: string, headers: Record<string, unknown> = {}) => ({
  description,
  headers: { "Tus-Resumable": { schema: { type: "string" } }, ...headers },
});

export function tusRoutes({ path, storage, maxSize }: TusOptions): Route[] {
  const responseHeaders = { "tus-resumable": TUS_VERSION };
  const uploadPath = `${path}/:id`;
  return [
    {
      method: "OPTIONS",
      path,
      summary: "tus: the protocol version, extensions and largest upload this server takes.",
      responseHeaders,
      openapi: {
        responses: {
          "204": withTus("What the server supports", {
            "Tus-Version": { schema: { type: "string" } },
            "Tus-Extension": { schema: { type: "string" } },
            "Tus-Max-Size": { schema: { type: "string" } },
          }),
        },
      },
      handler: () =>
        new Response(null, {
          status: 204,
          headers: { "tus-version": TUS_VERSION, "tus-extension": TUS_EXTENSIONS, "tus-max-size": String(maxSize) },
        }),
    },
    {
      method: "POST",
      path,
      summary:
        "tus creation: start an upload of Upload-Length bytes, stored as the base64 `filename` in Upload-Metadata.",
      responseHeaders,
      openapi: {
        parameters: [
          tusResumableParam,
          {
            name: "Upload-Length",
            in: "header",
            required: true,
            ...intHeader(`The file's size in bytes (at most ${maxSize})`),
          },
          {
            name: "Upload-Metadata",
            in: "header",
            required: true,
            schema: { type: "string", pattern: `^filename ${BASE64.source.slice(1)}` },
            description: "`filename <base64 of the UTF-8 name>` (other keys are allowed and ignored)",
          },
        ],
        responses: {
          "201": withTus("Created: PATCH the bytes to Location", { Location: { schema: { type: "string" } } }),
          "400": errorOf("Upload-Length or Upload-Metadata missing or malformed, or a bad file name"),
          "412": wrongVersion,
          "413": errorOf("Upload-Length is over MAX_UPLOAD_BYTES"),
          "507": errorOf("The disk or quota is full"),
        },
      },
      async handler(request) {
        requireTusResumable(request);
        const length = integerHeader(request, "upload-length");
        const filename = parseMetadata(request.headers.get("upload-metadata")).get("filename");
        if (filename === undefined) {
          throw new HttpError(400, "Upload-Metadata must carry the file name: filename <base64>");
        }
        // Over Tus-Max-Size: 413. (A length past 2^53 is no length at all: the storage refuses it, 400.)
        if (Number.isSafeInteger(length) && length > maxSize) {
          throw new HttpError(413, `an upload of ${length} bytes is over the limit of ${maxSize} bytes`);
        }
        const upload = await storage.create(length, filename);
        return new Response(null, {
          status: 201,
          headers: { location: `${path}/${upload.id}`, "upload-offset": String(upload.offset) },
        });
      },
    },
    {
      method: "HEAD",
      path: uploadPath,
      summary: "tus: where an upload stands (Upload-Offset: resume from there).",
      responseHeaders,
      openapi: {
        parameters: [idParam, tusResumableParam],
        responses: {
          "200": withTus("The upload's offset and length", {
            "Upload-Offset": { schema: { type: "string" } },
            "Upload-Length": { schema: { type: "string" } },
          }),
          "404": { description: "No such upload" }, // A HEAD answer has no body.
          "412": { description: "Tus-Resumable missing or not 1.0.0" },
        },
      },
      async handler(request, { id }) {
        requireTusResumable(request);
        const upload = await storage.status(id!);
        return new Response(null, {
          status: 200,
          headers: {
            ...uploadHeaders(upload),
            "upload-length": String(upload.length),
            "upload-metadata": encodeMetadata("filename", upload.filename),
          },
        });
      },
    },
    {
      method: "PATCH",
      path: uploadPath,
      summary: "tus: append the body at Upload-Offset; the file is stored whole once the last byte is in.",
      responseHeaders,
      maxBodyBytes: maxSize,
      openapi: {
        parameters: [
          idParam,
          tusResumableParam,
          { name: "Upload-Offset", in: "header", required: true, ...intHeader("The upload's current offset") },
        ],
        requestBody: {
          required: true,
          content: { [OFFSET_OCTET_STREAM]: { schema: { type: "string", format: "binary" } } },
        },
        responses: {
          "204": withTus("Appended (and stored when complete)", { "Upload-Offset": { schema: { type: "string" } } }),
          "400": errorOf("Upload-Offset missing or malformed, or the body was cut off (what arrived is kept)"),
          "404": noUpload,
          "409": errorOf("Upload-Offset is not the upload's offset (HEAD for it), or the upload is complete"),
          "412": wrongVersion,
          "413": errorOf("The body goes past Upload-Length (nothing was written)"),
          "415": errorOf(`Content-Type is not ${OFFSET_OCTET_STREAM}`),
          "423": errorOf("Another request is writing this upload: retry shortly"),
          "507": errorOf("The disk or quota is full: what was written so far is kept"),
        },
      },
      async handler(request, { id }) {
        requireTusResumable(request);
        const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
        if (type !== OFFSET_OCTET_STREAM) throw new HttpError(415, `Content-Type must be ${OFFSET_OCTET_STREAM}`);
        const offset = integerHeader(request, "upload-offset");
        const declared = request.headers.has("content-length") ? integerHeader(request, "content-length") : undefined;
        const upload = await storage.append(id!, offset, bodyChunks(request), declared);
        return new Response(null, { status: 204, headers: uploadHeaders(upload) });
      },
    },
    {
      method: "DELETE",
      path: uploadPath,
      summary: "tus termination: abandon the upload and remove its bytes (a completed file stays).",
      responseHeaders,
      openapi: {
        parameters: [idParam, tusResumableParam],
        responses: {
          "204": withTus("Terminated"),
          "404": noUpload,
          "412": wrongVersion,
          "423": errorOf("Another request is writing this upload: retry shortly"),
        },
      },
      async handler(request, { id }) {
        requireTusResumable(request);
        await storage.terminate(id!);
        return new Response(null, { status: 204 });
      },
    },
  ];
}
