// Request bodies, saved to files for wrk to replay, and the files the GET and download rows fetch.
import { writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { SIZES, UPLOAD_MARK } from "./config.ts";
import type { Servers } from "./servers.ts";

/** Per size tag: the random payload and the file in `bodies` that holds it. */
export type Payloads = Map<string, { path: string; data: Uint8Array<ArrayBuffer> }>;

/**
 * One random payload per size, saved in `bodies`, stored as bench-<tag>.bin in the runtime and in the
 * seed's directory.
 */
export async function preparePayloads(bodies: string, { runtime, seedDir }: Servers): Promise<Payloads> {
  // Stored through the runtime's own PUT, as in production; the seed gets the same bytes in its directory.
  // Upload bodies start with UPLOAD_MARK, which wrk replaces in each request: every upload is new
  // bytes, written and fsynced (an identical upload would only be linked to the blob it repeats).
  const payloads: Payloads = new Map();
  for (const size of SIZES) {
    const data = new Uint8Array(randomBytes(size.bytes));
    data.set(new TextEncoder().encode(UPLOAD_MARK));
    const path = join(bodies, `payload-${size.tag}.bin`);
    writeFileSync(path, data);
    payloads.set(size.tag, { path, data });
    const res = await fetch(`${runtime.url}/files/bench-${size.tag}.bin`, { method: "PUT", body: data });
    if (res.status !== 201) throw new Error(`seeding bench-${size.tag}.bin: HTTP ${res.status} ${await res.text()}`);
    writeFileSync(join(seedDir, `bench-${size.tag}.bin`), data);
  }
  return payloads;
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
