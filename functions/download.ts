// APP 1, the read side of the file service.
//   curl -X POST -F 'name=report.pdf' HOST:5001/download > report.pdf   (the historic API, verbatim)
//   curl -O HOST:5001/files/report.pdf                                  (REST, with ETag and Range)
//   curl HOST:5001/files                                                (JSON list)
import { defineFunction } from "../runtime/http/define-function.ts";
import { HttpError, json } from "../runtime/http/errors.ts";
import { formParts } from "../runtime/http/multipart.ts";
import { fileResponse } from "../runtime/storage/serve-file.ts";
import { fileStore } from "../runtime/storage/shared-store.ts";

const serveNamed = async (request: Request, name: string | undefined) =>
  fileResponse(request, await fileStore().open(name ?? ""));

export default defineFunction({
  start: () => fileStore().init(),
  routes: [
    {
      method: "POST",
      path: "/download",
      summary: "Download the file named by form field `name` (multipart or urlencoded).",
      auth: false,
      async handler(request) {
        let name: string | undefined;
        for await (const part of formParts(request)) {
          if (part.kind === "field" && part.field === "name") {
            name = part.value;
            break;
          }
          if (part.kind === "file") for await (const _ of part.stream); // Skip unexpected file parts.
        }
        if (name === undefined) throw new HttpError(400, "form field 'name' is missing");
        return serveNamed(request, name);
      },
    },
    {
      method: "GET",
      path: "/files/:name",
      summary: "Download a file; supports Range, If-None-Match and If-Range.",
      handler: (request, { name }) => serveNamed(request, name),
    },
    {
      method: "HEAD",
      path: "/files/:name",
      summary: "Size, sha256 ETag and modification time of a file, without its bytes.",
      handler: (request, { name }) => serveNamed(request, name),
    },
    {
      method: "GET",
      path: "/files",
      summary: "List stored files: name, size, sha256, modified.",
      async handler() {
        return json({ files: await fileStore().list() });
      },
    },
  ],
});
