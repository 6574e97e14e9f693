// The wrk rows: what each case sends, to which servers, at which sizes, in the order they run (see
// "Order" in bench/files.ts). In each case the runtime comes first and its peers after it; the runtime's
// row gets its req/s over each peer's.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { multipartBody, type Payloads } from "./bodies.ts";
import { SEED_LABEL, type Size, SIZES, UPLOAD_MARK } from "./config.ts";
import { type DiskProbe, fileCreateMicros } from "./disk.ts";
import { fmt } from "./format.ts";
import { type Load, measureTogether, type Row } from "./measure.ts";
import type { Servers } from "./servers.ts";

interface Case {
  heading: string;
  sizes: readonly Size[];
  /** The loads measured together at one size: the runtime's first. */
  loads(size: Size): Load[] | Promise<Load[]>;
  /** Measure file creation right before and after this case (the upload rows make files). */
  probesDisk?: boolean;
}

function cases({ runtime, nginxes, seed }: Servers, bodies: string, payloads: Payloads): Case[] {
  return [
    {
      heading: "GET /files/:name",
      sizes: SIZES,
      loads: (size) => {
        const name = `bench-${size.tag}.bin`;
        const base = { case: "GET /files/:name", size, minResponseBytes: size.bytes };
        return [
          { ...base, server: "runtime", url: `${runtime.url}/files/${name}` },
          ...nginxes.map((ngx) => ({ ...base, server: ngx.label, url: `${ngx.url}/files/${name}` })),
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
        };
        return [
          { ...base, server: "runtime", url: `${runtime.url}/download` },
          { ...base, server: SEED_LABEL, url: `${seed.url}/download` },
        ];
      },
    },
    {
      heading: "POST /upload (multipart, field `file`)",
      sizes: [...SIZES].reverse(), // the size with an aim first (see "Order" in bench/files.ts)
      probesDisk: true,
      loads: async (size) => {
        const body = await multipartBody(
          join(bodies, `file-${size.tag}.multipart`),
          "file",
          new File([payloads.get(size.tag)!.data], `upload-${size.tag}.bin`, { type: "application/octet-stream" }),
        );
        const base = {
          case: "POST /upload (multipart)",
          size,
          method: "POST" as const,
          bodyFile: body.path,
          uniqueMark: UPLOAD_MARK,
        };
        return [
          { ...base, server: "runtime", url: `${runtime.url}/upload`, contentType: body.contentType },
          { ...base, server: SEED_LABEL, url: `${seed.url}/upload`, contentType: body.contentType },
        ];
      },
    },
    {
      heading: "PUT /files/:name (raw body)",
      sizes: SIZES,
      loads: (size) => {
        const base = {
          case: "PUT /files/:name",
          size,
          method: "PUT" as const,
          bodyFile: payloads.get(size.tag)!.path,
          contentType: "application/octet-stream",
          uniqueMark: UPLOAD_MARK,
        };
        return [
          { ...base, server: "runtime", url: `${runtime.url}/files/put-${size.tag}.bin` },
          { ...base, server: "nginx dav PUT (worker_processes 1)", url: `${nginxes[0]!.url}/put/put-${size.tag}.bin` },
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
): Promise<{ rows: Row[]; disk?: DiskProbe }> {
  const rows: Row[] = [];
  let disk: DiskProbe | undefined;
  for (const c of cases(servers, bodies, payloads)) {
    const beforeUploads = c.probesDisk ? fileCreateMicros(dir, "before-uploads") : undefined;
    console.log(
      `\n${c.heading}${beforeUploads === undefined ? "" : `; file creation in TMPDIR: ${fmt(beforeUploads, 0)} µs`}`,
    );
    for (const size of c.sizes) {
      const [rt, ...peers] = await measureTogether(await c.loads(size));
      withRatio(rt!, peers);
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
