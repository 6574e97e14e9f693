// Auth, driven by the API's own document: every function (upload, download, remote-write) served by
// the real host in this process, the file functions declaring no token (the host's AUTH_TOKEN, which
// the contract applies to every write route whatever a function declares) and remote-write its own;
// every operation /openapi.json marks as secured (`bearerAuth`) is sent without the token and with
// wrong ones, and must answer 401 with the JSON error and the challenge, with nothing changed on disk
// (the whole data directory: names, blobs, tmp, uploads, the metrics sink's files). With the token, each is let through and does change the
// disk: the refused requests were ones that would have written. A new write route is covered as soon
// as the document lists it; one the document leaves open must be a read (the first test).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { downloadFunction } from "../../functions/download.ts";
import { remoteWriteFunction } from "../../functions/remote-write.ts";
import { uploadFunction } from "../../functions/upload.ts";
import { type InProcessRuntime, newRegistry, startInProcess } from "../../harness/in-process.ts";
import { compress, encodeV1, encodeV2, type TestSeries } from "../../harness/remote-write-requests.ts";
import { CONTENT_TYPE_V1, CONTENT_TYPE_V2 } from "../../harness/remote-write-schema.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import { DEFAULT_REMOTE_WRITE_SETTINGS } from "../../lib/remote-write/settings.ts";
import { defaultSettings } from "../files/serve-files.ts";

const TOKEN = "s3cret-token";
const WITH_TOKEN = { authorization: `Bearer ${TOKEN}` };
const MISSING = { error: "missing bearer token", status: 401 };
const INVALID = { error: "invalid bearer token", status: 401 };
const WRONG_CREDENTIALS = [
  { headers: {} as Record<string, string>, answer: MISSING },
  { headers: { authorization: "Bearer not-the-token" }, answer: INVALID },
  { headers: { authorization: `Bearer ${TOKEN}x` }, answer: INVALID },
  { headers: { authorization: `Basic ${btoa(`user:${TOKEN}`)}` }, answer: MISSING }, // the token, not as a bearer
];
/** What the document may leave open: reads, and the historic download form. */
const OPEN_WRITES_ALLOWED = ["POST /download"];
/** The write routes there are today: the document must mark them all (a floor, not the list). */
const KNOWN_SECURED = [
  "POST /upload",
  "PUT /files/{name}",
  "DELETE /files/{name}",
  "POST /uploads",
  "PATCH /uploads/{id}",
  "DELETE /uploads/{id}",
  "POST /api/v1/write",
  "POST /api/v1/prom/write",
];

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: { enum?: string[] };
}
interface Operation {
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, unknown> };
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
}

/** What a request may refer to: made with the token beforehand. */
interface Fixtures {
  /** A stored file. */
  name: string;
  /** A tus upload of TUS_LENGTH bytes, nothing sent yet. */
  uploadId: string;
  /** A name nothing has yet (for what creates one). */
  newName: string;
}
const TUS_LENGTH = 10;

/** Plausible values for the parameters the document declares; an unknown one fails the test, naming it. */
const PATH_VALUES: Record<string, (f: Fixtures) => string> = {
  name: (f) => f.name,
  id: (f) => f.uploadId,
};
const HEADER_VALUES: Record<string, (f: Fixtures) => string> = {
  "upload-length": () => String(TUS_LENGTH),
  "upload-metadata": (f) => `filename ${btoa(f.newName)}`,
  "upload-offset": () => "0",
};
const series = (): TestSeries[] => [
  {
    labels: [["__name__", "auth_probe"], ["job", "secured-operations"]],
    samples: [{ value: 1, timestamp: Date.now() }],
  },
];
const REMOTE_WRITE_HEADERS = { "content-encoding": "snappy" };
/** A body each request body type would be accepted with, so a refused request is one that would have written. */
const BODIES: Record<string, (f: Fixtures) => { body: BodyInit; headers: Record<string, string> }> = {
  "multipart/form-data": (f) => {
    const form = new FormData();
    form.append("file", new File([randomBytes(32)], f.newName));
    return { body: form, headers: {} };
  },
  "application/octet-stream": () => ({
    body: randomBytes(32),
    headers: { "content-type": "application/octet-stream" },
  }),
  "application/offset+octet-stream": () => ({
    body: randomBytes(TUS_LENGTH),
    headers: { "content-type": "application/offset+octet-stream" },
  }),
  [CONTENT_TYPE_V1]: () => ({
    body: compress(encodeV1(series())),
    headers: { ...REMOTE_WRITE_HEADERS, "content-type": CONTENT_TYPE_V1, "x-prometheus-remote-write-version": "0.1.0" },
  }),
  [CONTENT_TYPE_V2]: () => ({
    body: compress(encodeV2(series())),
    headers: { ...REMOTE_WRITE_HEADERS, "content-type": CONTENT_TYPE_V2, "x-prometheus-remote-write-version": "2.0.0" },
  }),
};

interface Case {
  /** e.g. `PATCH /uploads/{id}`, with the body's media type when the operation takes several. */
  label: string;
  operation: string;
  build(fixtures: Fixtures, auth: Record<string, string>): Request;
}

const METHODS = ["get", "head", "options", "post", "put", "patch", "delete"];

/** Every operation of the document, secured or not. */
function operations(doc: OpenApi): { key: string; path: string; method: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, op }))
  );
}
const isSecured = (op: Operation) => (op.security ?? []).some((requirement) => "bearerAuth" in requirement);

/** One case per secured operation and request body type. */
function securedCases(doc: OpenApi, url: string): Case[] {
  return operations(doc).filter(({ op }) => isSecured(op)).flatMap(({ key, path, method, op }) => {
    const types = op.requestBody ? Object.keys(op.requestBody.content) : [undefined];
    return types.map((type) => ({
      label: types.length > 1 ? `${key} (${type})` : key,
      operation: key,
      build(fixtures: Fixtures, auth: Record<string, string>) {
        const headers: Record<string, string> = {};
        let target = path;
        for (const param of op.parameters ?? []) {
          const value = param.schema?.enum?.[0] ??
            (param.in === "path" ? PATH_VALUES : HEADER_VALUES)[param.name.toLowerCase()]?.(fixtures);
          if (value === undefined) {
            if (!param.required) continue;
            throw new Error(`${key}: no plausible value for the ${param.in} parameter ${param.name}: add one here`);
          }
          if (param.in === "path") target = target.replace(`{${param.name}}`, encodeURIComponent(value));
          else if (param.in === "header") headers[param.name] = value;
          else throw new Error(`${key}: a ${param.in} parameter (${param.name}): teach this test about it`);
        }
        let body: BodyInit | undefined;
        if (type !== undefined) {
          const make = BODIES[type];
          if (make === undefined) throw new Error(`${key}: no plausible ${type} body: add one here`);
          const made = make(fixtures);
          body = made.body;
          Object.assign(headers, made.headers);
        }
        return new Request(`${url}${target}`, { method: method.toUpperCase(), headers: { ...headers, ...auth }, body });
      },
    }));
  });
}

const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Every entry under `dir`: kind, and what would show a write (times, inode, size, bytes, target). */
function snapshot(dir: string): Record<string, string> {
  const entries: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const full = join(dir, path);
      const stat = lstatSync(full);
      const times = `${stat.mtimeMs} ${stat.ctimeMs} ino ${stat.ino}`;
      if (stat.isSymbolicLink()) entries[path] = `link -> ${readlinkSync(full)} ${times}`;
      else if (stat.isDirectory()) {
        entries[path] = `dir ${times}`;
        walk(path);
      } else entries[path] = `file ${stat.size} bytes sha256 ${sha(readFileSync(full))} ${times}`;
    }
  };
  walk("");
  return entries;
}

let host: InProcessRuntime;
let dataDir: string;
let doc: OpenApi;
let fixtureCount = 0;

/** A stored file and a fresh tus upload, made with the token. */
async function makeFixtures(): Promise<Fixtures> {
  const n = ++fixtureCount;
  const name = `existing-${n}.txt`;
  const put = await fetch(`${host.url}/files/${name}`, { method: "PUT", body: `fixture ${n}`, headers: WITH_TOKEN });
  expect(put.status).toBe(201);
  const created = await fetch(`${host.url}/uploads`, {
    method: "POST",
    headers: {
      ...WITH_TOKEN,
      "tus-resumable": "1.0.0",
      "upload-length": String(TUS_LENGTH),
      "upload-metadata": `filename ${btoa(`by-tus-${n}.bin`)}`,
    },
  });
  expect(created.status).toBe(201);
  const uploadId = created.headers.get("location")!.split("/").at(-1)!;
  return { name, uploadId, newName: `new-${n}.bin` };
}

beforeAll(async () => {
  dataDir = tempDir("tarsd-secured-");
  const registry = newRegistry();
  // The file functions get no token of their own: the host's AUTH_TOKEN protects them, read (as a
  // replica does) when they are defined.
  const files = { ...defaultSettings(dataDir), token: undefined };
  const saved = process.env.AUTH_TOKEN;
  process.env.AUTH_TOKEN = TOKEN;
  let functions;
  try {
    functions = {
      upload: uploadFunction(files),
      download: downloadFunction(files),
      "remote-write": remoteWriteFunction({ ...DEFAULT_REMOTE_WRITE_SETTINGS, dataDir, token: TOKEN }, { registry }),
    };
  } finally {
    if (saved === undefined) delete process.env.AUTH_TOKEN;
    else process.env.AUTH_TOKEN = saved;
  }
  host = await startInProcess(functions, { registry });
  doc = (await (await fetch(`${host.url}/openapi.json`)).json()) as OpenApi;
});
afterAll(async () => {
  await host?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("every operation /openapi.json marks as secured (all functions, with a token)", () => {
  test("the document marks every write route secured, and leaves only reads open", () => {
    const all = operations(doc);
    const secured = all.filter(({ op }) => isSecured(op)).map(({ key }) => key);
    expect(secured).toEqual(expect.arrayContaining(KNOWN_SECURED));
    const openWrites = all
      .filter(({ method, op }) => !isSecured(op) && !["get", "head", "options"].includes(method))
      .map(({ key }) => key);
    expect(openWrites).toEqual(OPEN_WRITES_ALLOWED);
  });

  test("without the token, or with a wrong one: 401, the JSON error, the challenge, nothing changed on disk", async () => {
    const cases = securedCases(doc, host.url);
    const fixtures = await makeFixtures();
    // The metrics sink's file, there before too: a refused remote write must not even append.
    const sample = BODIES[CONTENT_TYPE_V1]!(fixtures);
    const primed = await fetch(`${host.url}/api/v1/write`, {
      method: "POST",
      body: sample.body,
      headers: { ...sample.headers, ...WITH_TOKEN },
    });
    expect(primed.status).toBe(204);
    const before = snapshot(dataDir);
    expect(Object.keys(before)).toEqual(
      expect.arrayContaining([`store/names/${fixtures.name}`, "store/uploads", "metrics/prometheus.lp"]),
    );
    expect(Object.keys(before).some((path) => path.startsWith(`store/uploads/${fixtures.uploadId}`))).toBe(true);
    for (const c of cases) {
      for (const { headers, answer } of WRONG_CREDENTIALS) {
        const res = await fetch(c.build(fixtures, headers));
        const sent = { case: c.label, authorization: headers.authorization ?? "(none)" };
        expect({ ...sent, status: res.status }).toEqual({ ...sent, status: 401 });
        expect({ ...sent, challenge: res.headers.get("www-authenticate") }).toEqual({
          ...sent,
          challenge: 'Bearer realm="tf-tarsd"',
        });
        expect({ ...sent, type: res.headers.get("content-type") }).toEqual({
          ...sent,
          type: expect.stringMatching(/^application\/json/),
        });
        expect({ ...sent, body: await res.json() }).toEqual({ ...sent, body: answer });
        expect({ ...sent, disk: snapshot(dataDir) }).toEqual({ ...sent, disk: before });
      }
    }
    expect(cases.length).toBeGreaterThanOrEqual(KNOWN_SECURED.length);
  });

  test("with the token, each is let through (no 401) and writes", async () => {
    for (const c of securedCases(doc, host.url)) {
      const fixtures = await makeFixtures();
      const before = snapshot(dataDir);
      const res = await fetch(c.build(fixtures, WITH_TOKEN));
      await res.arrayBuffer();
      // A 2xx (so not a 401): the request is one the operation accepts. The status shows on failure.
      expect({ case: c.label, status: res.status, ok: res.ok }).toEqual({
        case: c.label,
        status: res.status,
        ok: true,
      });
      expect({ case: c.label, changedDisk: !Bun.deepEquals(snapshot(dataDir), before) }).toEqual({
        case: c.label,
        changedDisk: true,
      });
    }
  });
});
