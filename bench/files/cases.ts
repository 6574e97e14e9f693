// The wrk rows: what each case sends, to which servers, at which sizes, in the order they run (see
// "Order" in bench/files.ts). In each case the runtime comes first and its peers after it; the runtime's
// row gets its req/s over each peer's. Each row says whether its server had an upload on disk before
// answering (DURABILITY), and each upload row what it must have written (written.ts).
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DistinctFiles, multipartBody, type Payloads } from "./bodies.ts";
import { NGINX_PUT_LABEL, type Size, SIZES, UPLOAD_MARK } from "./config.ts";
import { type DiskProbe, fileCreateMicros } from "./disk.ts";
import { fmt } from "./format.ts";
import { type Load, measureTogether, type Row } from "./measure.ts";
import type { Servers } from "./servers.ts";

/** What each server does before answering an upload (read from their source), and for reads. */
export const DURABILITY = {
  read: "— (read)",
  runtime: "fsync before answering: the blob's data, its directory, names/",
  runtimeDuplicate: "bytes durable since their first upload (no write of a blob); names/ fsynced before answering",
  seed: "no fsync: Bottle writes the file in place",
  nginxPut: "no fsync: temp file renamed over the name",
  dufs: "no fsync: truncates the file and writes it in place",
} as const;

interface Case {
  heading: string;
  sizes: readonly Size[];
  /** The loads measured together at one size: the runtime's first. */
  loads(size: Size): Load[] | Promise<Load[]>;
  /** Measure file creation right before and after this case (the upload rows make files). */
  probesDisk?: boolean;
}

function cases(servers: Servers, bodies: string, payloads: Payloads, distinct: DistinctFiles[]): Case[] {
  const { runtime, nginxes, seeds, dufs } = servers;
  const blobsDir = join(runtime.dataDir, "store", "blobs");
  const metricsUrl = `${runtime.url}/metrics`;
  /** The runtime's store must gain a blob per 2xx answer to `method` `route` (written.ts). */
  const newBlobs = (method: string, route: string) =>
    ({ blobsDir, expect: "a new blob per answer", answers: { metricsUrl, method, route } }) as const;
  return [
    {
      heading: "GET /files/:name",
      sizes: SIZES,
      loads: (size) => {
        const name = `bench-${size.tag}.bin`;
        const base = { case: "GET /files/:name", size, minResponseBytes: size.bytes, durability: DURABILITY.read };
        return [
          { ...base, server: "runtime", url: `${runtime.url}/files/${name}` },
          ...nginxes.map((ngx) => ({ ...base, server: ngx.label, url: `${ngx.url}/files/${name}` })),
        ];
      },
    },
    {
      heading: "GET /files/:name over distinct files (a different file each request, round-robin)",
      sizes: distinct.map((set) => set.size),
      loads: (size) => {
        const set = distinct.find((d) => d.size === size)!;
        const base = {
          case: "GET /files/:name, distinct files",
          size,
          minResponseBytes: size.bytes,
          durability: DURABILITY.read,
          pathsFile: set.pathsFile,
        };
        return [
          { ...base, server: "runtime", url: runtime.url },
          { ...base, server: nginxes[0]!.label, url: nginxes[0]!.url },
        ];
      },
    },
    {
      heading: "POST /download (multipart, field `name`)",
      sizes: SIZES,
      loads: async (size) => {
        const body = await multipartBody(join(bodies, `name-${size.tag}.multipart`), "name", `bench-${size.tag}.bin`);
        const base = {
          case: "POST /download (multipart)",
          size,
          method: "POST" as const,
          bodyFile: body.path,
          contentType: body.contentType,
          minResponseBytes: size.bytes,
          durability: DURABILITY.read,
        };
        return [
          { ...base, server: "runtime", url: `${runtime.url}/download` },
          ...seeds.map((seed) => ({ ...base, server: seed.label, url: `${seed.url}/download` })),
        ];
      },
    },
    {
      heading: "POST /upload (multipart, field `file`; every request new bytes)",
      sizes: [...SIZES].reverse(), // the size with an aim first (see "Order" in bench/files.ts)
      probesDisk: true,
      loads: async (size) => {
        const payload = payloads.get(size.tag)!.data;
        const file = `upload-${size.tag}.bin`;
        const body = await multipartBody(
          join(bodies, `file-${size.tag}.multipart`),
          "file",
          new File([payload], file, { type: "application/octet-stream" }),
        );
        const base = {
          case: "POST /upload (multipart)",
          size,
          method: "POST" as const,
          bodyFile: body.path,
          contentType: body.contentType,
          uniqueMark: UPLOAD_MARK,
        };
        return [
          {
            ...base,
            server: "runtime",
            url: `${runtime.url}/upload`,
            durability: DURABILITY.runtime,
            written: newBlobs("POST", "/upload"),
          },
          ...seeds.map((seed) => ({
            ...base,
            server: seed.label,
            url: `${seed.url}/upload`,
            durability: DURABILITY.seed,
            written: { file: join(seed.dir, file), payload, mark: UPLOAD_MARK },
          })),
        ];
      },
    },
    {
      heading: "POST /upload, identical bytes (the duplicate path: stored once, then only linked; no peer)",
      sizes: [...SIZES].reverse(),
      loads: async (size) => {
        // Random bytes of their own, no mark: the pre-flight stores them, every request after repeats them.
        const body = await multipartBody(
          join(bodies, `duplicate-${size.tag}.multipart`),
          "file",
          new File([new Uint8Array(randomBytes(size.bytes))], `duplicate-${size.tag}.bin`, {
            type: "application/octet-stream",
          }),
        );
        return [{
          case: "POST /upload, identical bytes (deduplicated)",
          size,
          server: "runtime",
          url: `${runtime.url}/upload`,
          method: "POST" as const,
          bodyFile: body.path,
          contentType: body.contentType,
          durability: DURABILITY.runtimeDuplicate,
          written: { blobsDir, expect: "one blob in all", answers: { metricsUrl, method: "POST", route: "/upload" } },
        }];
      },
    },
    {
      heading: "PUT /files/:name (raw body; every request new bytes)",
      sizes: SIZES,
      loads: (size) => {
        const payload = payloads.get(size.tag)!.data;
        const file = `put-${size.tag}.bin`;
        const base = {
          case: "PUT /files/:name",
          size,
          method: "PUT" as const,
          bodyFile: payloads.get(size.tag)!.path,
          contentType: "application/octet-stream",
          uniqueMark: UPLOAD_MARK,
        };
        const writes = (dir: string) => ({ file: join(dir, file), payload, mark: UPLOAD_MARK });
        return [
          {
            ...base,
            server: "runtime",
            url: `${runtime.url}/files/${file}`,
            durability: DURABILITY.runtime,
            written: newBlobs("PUT", "/files/:name"),
          },
          {
            ...base,
            server: NGINX_PUT_LABEL,
            url: `${nginxes[0]!.url}/put/${file}`,
            durability: DURABILITY.nginxPut,
            written: writes(nginxes[0]!.putDir),
          },
          {
            ...base,
            server: dufs.label,
            url: `${dufs.url}/${file}`,
            durability: DURABILITY.dufs,
            written: writes(dufs.dir),
          },
        ];
      },
    },
  ];
}

/** Runs every case at each of its sizes; `dir` takes the disk probes' files. */
export async function runCases(
  dir: string,
  servers: Servers,
  bodies: string,
  payloads: Payloads,
  distinct: DistinctFiles[],
): Promise<{ rows: Row[]; disk?: DiskProbe }> {
  const rows: Row[] = [];
  let disk: DiskProbe | undefined;
  for (const c of cases(servers, bodies, payloads, distinct)) {
    const beforeUploads = c.probesDisk ? fileCreateMicros(dir, "before-uploads") : undefined;
    console.log(
      `\n${c.heading}${beforeUploads === undefined ? "" : `; file creation in TMPDIR: ${fmt(beforeUploads, 0)} µs`}`,
    );
    for (const size of c.sizes) {
      const [rt, ...peers] = await measureTogether(await c.loads(size));
      if (peers.length > 0) withRatio(rt!, peers);
      rows.push(rt!, ...peers);
    }
    if (beforeUploads !== undefined) {
      disk = {
        tmpdir: tmpdir(),
        fileCreateMicros: { beforeUploads, afterUploads: fileCreateMicros(dir, "after-uploads") },
      };
    }
  }
  return { rows, disk };
}

function withRatio(runtimeRow: Row, peers: Row[]): void {
  runtimeRow.ratio = Object.fromEntries(
    peers.map((p) => [p.server, p.requestsPerSec > 0 ? runtimeRow.requestsPerSec / p.requestsPerSec : 0]),
  );
}
