// APP 1, the write side of the file service.
//   curl -X POST -F 'file=@report.pdf' HOST:5001/upload        (the historic API, kept verbatim)
//   curl -T report.pdf HOST:5001/files/report.pdf               (REST: PUT the raw body)
//   curl -X DELETE HOST:5001/files/report.pdf
//   tus 1.0 at HOST:5001/uploads (creation, termination): resumable uploads, e.g. with tus-js-client
// Bodies stream to disk; a file appears whole or not at all, and a request's files all or none
// (see lib/files/file-store.ts); a full disk is 507 and leaves nothing behind.
import {
  bodyChunks,
  defineFunction,
  errorOf,
  FORM_FIELD_NAMES,
  formParts,
  type FunctionModule,
  HttpError,
  json,
  jsonOf,
  MULTIPART_OVERHEAD_BYTES,
  ref,
} from "@tarsd/sdk";
import { register, type Registry } from "prom-client";
import { FileService } from "../lib/files/file-service.ts";
import { FILE_SCHEMAS, nameParam } from "../lib/files/openapi.ts";
import { type FileServiceSettings, fileServiceSettingsFromEnv } from "../lib/files/settings.ts";
import { fileStoreMetrics } from "../lib/files/store-metrics.ts";
import type { StagedFile } from "../lib/files/staging.ts";
import { tusRoutes } from "../lib/files/tus.ts";

const badName = errorOf("Bad file name, or no file in the request");
const tooLarge = errorOf("A file is over MAX_UPLOAD_BYTES");
const diskFull = errorOf("The disk or quota is full: nothing was stored");
const storedFile = (description: string) =>
  jsonOf(description, ref("StoredFile"), {
    ETag: { schema: { type: "string" } },
    Location: { schema: { type: "string" } },
  });

/**
 * A form's file held to MAX_UPLOAD_BYTES: the contract limits the whole form body, which may be
 * larger by its framing (MULTIPART_OVERHEAD_BYTES), so a file of the form is counted here.
 */
async function* fileAtMost(stream: AsyncIterable<Uint8Array>, maxBytes: number): AsyncGenerator<Uint8Array> {
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new HttpError(413, `file is over the limit of ${maxBytes} bytes`);
    yield chunk;
  }
}

/**
 * The upload function over `settings`: nothing is touched until the host starts it. With a `registry`,
 * the store's share of the disk is reported there (lib/files/store-metrics.ts).
 */
export function uploadFunction(settings: FileServiceSettings, deps: { registry?: Registry } = {}): FunctionModule {
  const service = new FileService(settings);
  if (deps.registry) fileStoreMetrics(deps.registry, service.store);
  const { store, uploads } = service;
  const { maxUploadBytes } = settings;
  return defineFunction({
    schemas: FILE_SCHEMAS,
    token: settings.token,
    start: () => service.start({ housekeeping: true }),
    ready: () => service.reachable(),
    stop: () => service.stop(),
    routes: [
      {
        method: "POST",
        path: "/upload",
        summary: "Upload one or more files as multipart/form-data field `file` (stored under their file names).",
        maxBodyBytes: maxUploadBytes,
        bodyOverheadBytes: MULTIPART_OVERHEAD_BYTES,
        openapi: {
          requestBody: {
            required: true,
            content: {
              "multipart/form-data": {
                schema: {
                  type: "object",
                  required: ["file"],
                  propertyNames: FORM_FIELD_NAMES,
                  properties: { file: { type: "array", minItems: 1, items: { type: "string", format: "binary" } } },
                },
              },
            },
          },
          responses: {
            "201": jsonOf("All files stored (all or none)", {
              type: "object",
              required: ["stored"],
              properties: { stored: { type: "array", items: ref("StoredFile") } },
            }),
            "400": badName,
            "413": tooLarge,
            "507": diskFull,
          },
        },
        async handler(request) {
          const staged: StagedFile[] = [];
          try {
            for await (const part of formParts(request)) {
              if (part.kind !== "file") continue;
              if (part.field !== "file") {
                for await (const _ of part.stream); // Not ours: let the parser move past it.
                continue;
              }
              // A bad name is refused before anything of this file is written (and the earlier ones go).
              staged.push(await store.stage(part.filename, fileAtMost(part.stream, maxUploadBytes)));
            }
            if (staged.length === 0) throw new HttpError(400, "form field 'file' is missing");
          } catch (err) {
            await Promise.all(staged.map((s) => store.discard(s.staged)));
            throw err;
          }
          const stored = await store.commit(staged); // all or none
          return json({ stored: stored.map(({ replaced: _, ...file }) => file) }, 201);
        },
      },
      {
        method: "PUT",
        path: "/files/:name",
        summary: "Store the raw request body as the named file (201 when new, 200 when replaced).",
        maxBodyBytes: maxUploadBytes,
        openapi: {
          parameters: [nameParam],
          requestBody: {
            required: false, // No body at all is an empty body (@tarsd/sdk's bodyChunks): curl -X PUT stores an empty file.
            description: "The file's bytes (an empty or absent body stores an empty file)",
            content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
          },
          responses: {
            "200": storedFile("Replaced"),
            "201": storedFile("Created"),
            "400": badName,
            "413": tooLarge,
            "507": diskFull,
          },
        },
        async handler(request, { name }) {
          const file = await store.put(name!, bodyChunks(request));
          const { replaced, ...stored } = file;
          return json(stored, replaced ? 200 : 201, {
            etag: `"${file.sha256}"`,
            location: `/files/${encodeURIComponent(file.name)}`,
          });
        },
      },
      {
        method: "DELETE",
        path: "/files/:name",
        summary: "Delete the named file.",
        openapi: {
          parameters: [nameParam],
          responses: { "204": { description: "Deleted" }, "404": errorOf("No such file") },
        },
        async handler(_request, { name }) {
          await store.delete(name!);
          return new Response(null, { status: 204 });
        },
      },
      ...tusRoutes({ path: "/uploads", storage: uploads, maxSize: maxUploadBytes }),
    ],
  });
}

export default uploadFunction(fileServiceSettingsFromEnv(), { registry: register });
