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
  HttpError,
  json,
  jsonOf,
  MULTIPART_OVERHEAD_BYTES,
  ref,
} from "@tarsd/sdk";
import { tusRoutes } from "../lib/files/tus.ts";
import { FILE_SCHEMAS, nameParam } from "../lib/files/openapi.ts";
import type { Staged } from "../lib/files/file-store.ts";
import { validateName } from "../lib/files/names.ts";
import {
  fileServiceConfig,
  fileStore,
  resumableUploads,
  startFileStore,
  storeReachable,
} from "../lib/files/shared-store.ts";

const { maxUploadBytes } = fileServiceConfig;

const badName = errorOf("Bad file name, or no file in the request");
const tooLarge = errorOf("A file is over MAX_UPLOAD_BYTES");
const diskFull = errorOf("The disk or quota is full: nothing was stored");
const storedFile = (description: string) =>
  jsonOf(description, ref("StoredFile"), {
    ETag: { schema: { type: "string" } },
    Location: { schema: { type: "string" } },
  });

export default defineFunction({
  schemas: FILE_SCHEMAS,
  token: fileServiceConfig.token,
  start: () => startFileStore({ housekeeping: true }),
  ready: storeReachable,
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
        const store = fileStore();
        const staged: { name: string; staged: Staged }[] = [];
        try {
          for await (const part of formParts(request)) {
            if (part.kind !== "file") continue;
            if (part.field !== "file") {
              for await (const _ of part.stream); // Not ours: let the parser move past it.
              continue;
            }
            const name = validateName(part.filename);
            staged.push({ name, staged: await store.stage(part.stream, maxUploadBytes) });
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
          required: false, // No body at all is an empty body (runtime/http/body.ts): curl -X PUT stores an empty file.
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
        const file = await fileStore().put(validateName(name), bodyChunks(request), maxUploadBytes);
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
        await fileStore().delete(name!);
        return new Response(null, { status: 204 });
      },
    },
    ...tusRoutes({ path: "/uploads", storage: resumableUploads, maxSize: maxUploadBytes }),
  ],
});
