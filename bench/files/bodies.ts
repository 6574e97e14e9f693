// Request bodies, saved to files for wrk to replay, and the files the GET and download rows fetch.
import { writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { DISTINCT_SETS, type Size, SIZES, UPLOAD_MARK } from "./config.ts";
import { fmt } from "./format.ts";
import type { Runtime, Servers } from "./servers.ts";

/** Per size tag: the random payload and the file in `bodies` that holds it. */
export type Payloads = Map<string, { path: string; data: Uint8Array<ArrayBuffer> }>;

/**
 * One random payload per size, saved in `bodies`, stored as bench-<tag>.bin in the runtime and in each
 * seed's directory.
 */
export async function preparePayloads(bodies: string, { runtime, seeds }: Servers): Promise<Payloads> {
  // Stored through the runtime's own PUT, as in production; the seeds get the same bytes in their
  // directories. Upload bodies start with UPLOAD_MARK, which wrk replaces in each request with a stamp
  // no other request of the run carries (bench/wrk/files.lua): every upload is new bytes, written and
  // fsynced (an identical upload would only be linked to the blob it repeats). The stored
  // bench-<tag>.bin keeps the mark itself, which no upload sends.
  const payloads: Payloads = new Map();
  for (const size of SIZES) {
    const data = new Uint8Array(randomBytes(size.bytes));
    data.set(new TextEncoder().encode(UPLOAD_MARK));
    const path = join(bodies, `payload-${size.tag}.bin`);
    writeFileSync(path, data);
    payloads.set(size.tag, { path, data });
    await put(runtime, `bench-${size.tag}.bin`, data);
    for (const seed of seeds) writeFileSync(join(seed.dir, `bench-${size.tag}.bin`), data);
  }
  return payloads;
}

/** A set of distinct files of one size in the runtime's store, and the file of their request paths. */
export interface DistinctFiles {
  size: Size;
  count: number;
  /** /files/<name>, one a line: the runtime's route and nginx's alias of the store's names/. */
  pathsFile: string;
}

/**
 * DISTINCT_SETS: per size, `count` files of random bytes (each its own blob) PUT through the runtime,
 * 8 at a time, and the list of their paths for wrk (bench/wrk/files.lua, BENCH_PATHS_FILE).
 */
export async function prepareDistinctFiles(bodies: string, { runtime }: Servers): Promise<DistinctFiles[]> {
  const sets: DistinctFiles[] = [];
  for (const { size, of, count } of DISTINCT_SETS) {
    const started = performance.now();
    const names = Array.from({ length: count }, (_, i) => `many-${size.tag}-${String(i).padStart(6, "0")}.bin`);
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < names.length) await put(runtime, names[next++]!, new Uint8Array(randomBytes(size.bytes)));
    }));
    const pathsFile = join(bodies, `paths-${size.tag}.txt`);
    writeFileSync(pathsFile, names.map((name) => `/files/${name}\n`).join(""));
    console.log(
      `Stored ${fmt(count, 0)} distinct files of ${of.label} through the runtime's PUT in ${
        fmt((performance.now() - started) / 1000, 1)
      } s`,
    );
    sets.push({ size, count, pathsFile });
  }
  return sets;
}

async function put(runtime: Runtime, name: string, data: Uint8Array<ArrayBuffer>): Promise<void> {
  const res = await fetch(`${runtime.url}/files/${name}`, { method: "PUT", body: data });
  if (res.status !== 201) throw new Error(`storing ${name}: HTTP ${res.status} ${await res.text()}`);
}

/** A multipart/form-data body as fetch would send it (the web's own encoder), saved for wrk to replay. */
export async function multipartBody(path: string, field: string, value: string | File) {
  const form = new FormData();
  form.append(field, value);
  const request = new Request("http://encoder.invalid/", { method: "POST", body: form });
  // Read before the body: Bun computes a FormData body's content type lazily and forgets it once consumed.
  const contentType = request.headers.get("content-type")!;
  writeFileSync(path, new Uint8Array(await request.arrayBuffer()));
  return { path, contentType };
}
