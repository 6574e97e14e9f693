// APP 1, the read side of the file service.
//   curl -X POST -F 'name=report.pdf' HOST:5001/download > report.pdf   (the historic API, verbatim)
//   curl -O HOST:5001/files/report.pdf                                  (REST, with ETag and Range)
//   curl HOST:5001/files                                                (JSON list)
import {
  defineFunction,
  errorOf,
  FORM_FIELD_NAMES,
  formField,
  type FunctionModule,
  HttpError,
  json,
  jsonOf,
  ref,
} from "@tarsd/sdk";
import { register, type Registry } from "prom-client";
import { FileService } from "../lib/files/file-service.ts";
import { FILE_SCHEMAS, fileBytes, nameParam } from "../lib/files/openapi.ts";
import { fileResponse } from "../lib/files/serve-file.ts";
import { type FileServiceSettings, fileServiceSettingsFromEnv } from "../lib/files/settings.ts";
import { fileStoreMetrics } from "../lib/files/store-metrics.ts";
import { SmallBlobs } from "../lib/files/small-blobs.ts";

const notFound = errorOf("No such file");
const nameForm = { type: "object", required: ["name"], properties: { name: ref("FileName") } };

/**
 * The download function over `settings`: nothing is touched until the host starts it. With a `registry`,
 * the store's share of the disk is reported there (lib/files/store-metrics.ts).
 */
export function downloadFunction(settings: FileServiceSettings, deps: { registry?: Registry } = {}): FunctionModule {
  const service = new FileService(settings);
  if (deps.registry) fileStoreMetrics(deps.registry, service.store);
  const { store } = service;
  const smallBlobs = new SmallBlobs();
  const serveNamed = (request: Request, name: string | undefined) =>
    store.withResolved(name ?? "", async (file) =>
      fileResponse(
        request,
        file,
        request.method === "HEAD" ? undefined : await smallBlobs.bytes(file.sha256, file.path, file.size),
      ));

  return defineFunction({
    schemas: FILE_SCHEMAS,
    start: () => service.start(),
    ready: () => service.reachable(),
    stop: () => service.stop(),
    routes: [
      {
        method: "POST",
        path: "/download",
        summary: "Download the file named by form field `name` (multipart or urlencoded).",
        auth: { none: "the historic download form: it reads a file, as GET /files/{name} does" },
        openapi: {
          requestBody: {
            required: true,
            content: {
              "multipart/form-data": { schema: { ...nameForm, propertyNames: FORM_FIELD_NAMES } },
              "application/x-www-form-urlencoded": { schema: nameForm },
            },
          },
          responses: { "200": fileBytes("The file"), "400": errorOf("Form field `name` missing"), "404": notFound },
        },
        async handler(request) {
          const name = await formField(request, "name");
          if (name === undefined) throw new HttpError(400, "form field 'name' is missing");
          return serveNamed(request, name);
        },
      },
      {
        method: "GET",
        path: "/files/:name",
        summary: "Download a file; supports Range, If-None-Match and If-Range.",
        openapi: {
          parameters: [nameParam],
          responses: {
            "200": fileBytes("The file"),
            "206": fileBytes("The requested range"),
            "304": { description: "Not modified (If-None-Match matched the sha256 ETag)" },
            "404": notFound,
            "416": errorOf("Range not satisfiable"),
          },
        },
        handler: (request, { name }) => serveNamed(request, name),
      },
      {
        method: "HEAD",
        path: "/files/:name",
        summary: "Size, sha256 ETag and modification time of a file, without its bytes.",
        openapi: {
          parameters: [nameParam],
          responses: { "200": { description: "The file exists" }, "404": { description: "No such file" } },
        },
        handler: (request, { name }) => serveNamed(request, name),
      },
      {
        method: "GET",
        path: "/files",
        summary: "List stored files: name, size, sha256, modified.",
        openapi: {
          responses: {
            "200": jsonOf("Stored files", {
              type: "object",
              required: ["files"],
              properties: { files: { type: "array", items: ref("StoredFile") } },
            }),
          },
        },
        async handler() {
          return json({ files: await store.list() });
        },
      },
    ],
  });
}

export default downloadFunction(fileServiceSettingsFromEnv(), { registry: register });
