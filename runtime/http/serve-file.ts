// Turns a resolved file into the HTTP response a download client expects: strong ETag (the sha256),
// conditional GET, a single Range, attachment disposition, and no content sniffing. The bytes are
// the blob's, which never change: given in memory (a small blob, see lib/files/small-blobs.ts), or
// under Bun the file itself (Bun.file, which the server sends with sendfile), elsewhere (Deno) a
// stream read from it.
import { openStream, type ResolvedFile } from "../../lib/files/file-store.ts";
import { parseRange } from "./ranges.ts";

export async function fileResponse(
  request: Request,
  file: ResolvedFile,
  bytes?: Uint8Array<ArrayBuffer>,
): Promise<Response> {
  const etag = `"${file.sha256}"`;
  const headers: Record<string, string> = {
    "content-type": "application/octet-stream",
    "content-disposition": contentDisposition(file.name),
    "x-content-type-options": "nosniff",
    "accept-ranges": "bytes",
    etag,
    "last-modified": file.modified.toUTCString(),
  };
  const method = request.method;
  if (etagMatches(request.headers.get("if-none-match"), etag)) return new Response(null, { status: 304, headers });
  let range = null;
  const ifRange = request.headers.get("if-range");
  if (ifRange === null || ifRange === etag) range = parseRange(request.headers.get("range"), file.size);
  const start = range?.start ?? 0;
  const end = range?.end ?? file.size - 1;
  headers["content-length"] = String(Math.max(0, end - start + 1));
  if (range) headers["content-range"] = `bytes ${start}-${end}/${file.size}`;
  const status = range ? 206 : 200;
  if (method === "HEAD" || file.size === 0) return new Response(null, { status, headers });
  const body = bytes !== undefined
    ? bytes.subarray(start, end + 1)
    : typeof Bun === "undefined"
    ? await openStream(file.path, start, end)
    : Bun.file(file.path).slice(start, end + 1);
  return new Response(body, { status, headers });
}

/** RFC 6266: an ASCII fallback plus the exact UTF-8 name, so any name survives the header. */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

function etagMatches(header: string | null, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((tag) => {
    const t = tag.trim().replace(/^W\//, "");
    return t === "*" || t === etag;
  });
}
