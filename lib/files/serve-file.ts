// Turns a resolved file into the HTTP response a download client expects: strong ETag (the sha256),
// conditional GET, a single Range, attachment disposition, and no content sniffing. The bytes are
// the blob's, which never change: given in memory (a small blob, see lib/files/small-blobs.ts), or
// under Bun the file itself (Bun.file, which the server sends with sendfile), elsewhere (Deno) a
// stream read from it.
import type { ResolvedFile } from "./file-store.ts";
import { openStream } from "./stream-utils.ts";
import { parseRange } from "./ranges.ts";

export async function fileResponse(request: Request, file: ResolvedFile, bytes?: Blob): Promise<Response> {
  const ifNoneMatch = request.headers.get("if-none-match");
  const rangeHeader = request.headers.get("range");
  if (ifNoneMatch === null && rangeHeader === null) {
    // Most downloads: the whole file, its headers made once per version (below).
    const headers = wholeFileHeaders.of(file);
    if (request.method === "HEAD" || file.size === 0) return new Response(null, { headers });
    return new Response(bytes ?? await fileBody(file, 0, file.size - 1), { headers });
  }
  const etag = `"${file.sha256}"`;
  const headers = baseHeaders(file, etag);
  if (etagMatches(ifNoneMatch, etag)) return new Response(null, { status: 304, headers });
  let range = null;
  const ifRange = request.headers.get("if-range");
  if (ifRange === null || ifRange === etag) range = parseRange(rangeHeader, file.size);
  const start = range?.start ?? 0;
  const end = range?.end ?? file.size - 1;
  headers["content-length"] = String(Math.max(0, end - start + 1));
  if (range) headers["content-range"] = `bytes ${start}-${end}/${file.size}`;
  const status = range ? 206 : 200;
  if (request.method === "HEAD" || file.size === 0) return new Response(null, { status, headers });
  return new Response(bytes?.slice(start, end + 1) ?? await fileBody(file, start, end), { status, headers });
}

/** Bytes [start, end] of the blob on disk: under Bun a slice of the file (sendfile), elsewhere a stream. */
function fileBody(file: ResolvedFile, start: number, end: number): Promise<Blob | ReadableStream<Uint8Array>> {
  return typeof Bun === "undefined"
    ? openStream(file.path, start, end)
    : Promise.resolve(Bun.file(file.path).slice(start, end + 1));
}

function baseHeaders(file: ResolvedFile, etag: string): Record<string, string> {
  return {
    "content-type": "application/octet-stream",
    "content-disposition": contentDisposition(file.name),
    "x-content-type-options": "nosniff",
    "accept-ranges": "bytes",
    etag,
    "last-modified": file.modified.toUTCString(),
  };
}

/**
 * The headers of each name's whole-file answer, kept while the name points at the same blob with
 * the same time: a Response copies a Headers object it is given, where it would parse a record
 * (with the date and the disposition to format) several times slower. Bounded by entries; a
 * version's headers are small.
 */
class WholeFileHeaders {
  private readonly byName = new Map<string, { sha256: string; time: number; headers: Headers }>();

  constructor(private readonly maxEntries = 10_000) {}

  of(file: ResolvedFile): Headers {
    const time = file.modified.getTime();
    const known = this.byName.get(file.name);
    if (known !== undefined && known.sha256 === file.sha256 && known.time === time) return known.headers;
    const headers = new Headers(baseHeaders(file, `"${file.sha256}"`));
    headers.set("content-length", String(file.size));
    if (this.byName.size >= this.maxEntries) this.byName.clear();
    this.byName.set(file.name, { sha256: file.sha256, time, headers });
    return headers;
  }
}

const wholeFileHeaders = new WholeFileHeaders();

/** RFC 6266: an ASCII fallback plus the exact UTF-8 name, so any name survives the header. */
function contentDisposition(name: string): string {
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
