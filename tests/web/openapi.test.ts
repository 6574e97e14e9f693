// /openapi.json against the routes the runtime actually mounts, and a structural validation of the
// document against the OpenAPI 3.1 JSON schema. Runs every function in functions/, so a new
// function's routes are checked too.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { RUNTIME_TAG, toOpenApiPath } from "../../runtime/openapi.ts";
import { type RuntimeProcess, startRuntime } from "../../harness/runtime-process.ts";

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        summary?: string;
        tags?: string[];
        security?: unknown[];
        description?: string;
        responses: Record<string, unknown>;
        parameters?: { name: string; in: string }[];
      }
    >
  >;
  components: Record<string, Record<string, unknown>>;
};
type Fn = { name: string; sha256: string; routes: { method: string; path: string; summary: string }[] };

let rt: RuntimeProcess;
let doc: Doc;
let functions: Fn[];

beforeAll(async () => {
  rt = await startRuntime({ AUTH_TOKEN: "t0ken" });
  const res = await fetch(`${rt.url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  doc = (await res.json()) as Doc;
  functions = (await (await fetch(`${rt.url}/functions`)).json()) as Fn[];
});
afterAll(async () => {
  await rt?.stop();
});

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ path, method: method.toUpperCase(), op }))
  );

describe("/openapi.json", () => {
  test("is a valid OpenAPI 3.1 document", async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const result = await new Validator().validate(doc as Record<string, unknown>);
    if (!result.valid) console.error(JSON.stringify(result.errors, null, 2));
    expect(result.valid).toBe(true);
  });

  test("every $ref points at something in the document", () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(ref.startsWith("#/")).toBe(true);
      let node: unknown = doc;
      for (const key of ref.slice(2).split("/")) node = (node as Record<string, unknown> | undefined)?.[key];
      expect({ ref, found: node !== undefined }).toEqual({ ref, found: true });
    }
  });

  test("has exactly one operation per mounted function route, with its summary", () => {
    expect(functions.map((f) => f.name)).toEqual(expect.arrayContaining(["upload", "download"]));
    const declared = functions.flatMap((f) => f.routes.map((r) => `${r.method} ${toOpenApiPath(r.path)}`)).sort();
    const documented = operations()
      .filter(({ op }) => !op.tags?.includes(RUNTIME_TAG))
      .map(({ method, path }) => `${method} ${path}`)
      .sort();
    expect(documented).toEqual(declared);
    for (const f of functions) {
      for (const r of f.routes) {
        const op = doc.paths[toOpenApiPath(r.path)]![r.method.toLowerCase()]!;
        expect(op.summary).toBe(r.summary);
        expect(op.tags).toEqual([f.name]);
        for (const name of r.path.split("/").filter((s) => s.startsWith(":")).map((s) => s.slice(1))) {
          expect(op.parameters?.some((p) => p.in === "path" && p.name === name)).toBe(true);
        }
      }
    }
  });

  test("includes the historic POST /upload and POST /download with their request bodies", () => {
    const upload = doc.paths["/upload"]!.post as unknown as {
      requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> };
    };
    expect(upload.requestBody.content["multipart/form-data"]!.schema.properties.file).toEqual({
      type: "array",
      minItems: 1,
      items: { type: "string", format: "binary" },
    });
    const download = doc.paths["/download"]!.post as unknown as { requestBody: { content: Record<string, unknown> } };
    expect(Object.keys(download.requestBody.content).sort()).toEqual([
      "application/x-www-form-urlencoded",
      "multipart/form-data",
    ]);
    expect(Object.keys(doc.paths["/upload"]!.post!.responses)).toEqual(
      expect.arrayContaining(["201", "400", "401", "413"]),
    );
    expect(Object.keys(doc.paths["/files/{name}"]!.get!.responses)).toEqual(
      expect.arrayContaining(["200", "206", "404", "416"]),
    );
  });

  test("write routes carry the bearer security scheme and a 401; reads, and writes opted out, none", () => {
    expect(doc.components.securitySchemes).toHaveProperty("bearerAuth");
    expect(doc.paths["/files/{name}"]!.put!.security).toEqual([{}, { bearerAuth: [] }]);
    expect(doc.paths["/files/{name}"]!.delete!.responses).toHaveProperty("401");
    expect(doc.paths["/files/{name}"]!.get!.security).toEqual([]);
    expect(doc.paths["/download"]!.post!.security).toEqual([]);
    // The opt-out is explicit, and says why.
    expect(doc.paths["/download"]!.post!.description).toContain("Open to anyone, no token: ");
  });

  test("every documented function operation is mounted (answered by the function, not the router)", async () => {
    for (const { path, method, op } of operations()) {
      const url = `${rt.url}${path.replace(/\{[^}]+\}/g, "no-such-file")}`;
      const res = await fetch(url, { method, headers: { authorization: "Bearer t0ken" } });
      const text = await res.text();
      if (op.tags?.includes(RUNTIME_TAG)) {
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        continue;
      }
      expect({ method, path, status: res.status }).not.toEqual({ method, path, status: 405 });
      if (method !== "HEAD") {
        expect({ method, path, text }).not.toEqual({ method, path, text: expect.stringContaining("no route for") });
      }
      expect(Object.keys(op.responses)).toEqual(
        expect.arrayContaining([String(res.status) in op.responses ? String(res.status) : "default"]),
      );
    }
  });

  test("the web page and docs do not shadow the API: unknown paths stay JSON 404/405", async () => {
    const nope = await fetch(`${rt.url}/nope.html`);
    expect(nope.status).toBe(404);
    expect(await nope.json()).toEqual({ error: "no route for /nope.html", status: 404 });
    expect((await fetch(`${rt.url}/prom.d.ts`)).status).toBe(404); // Types for the tests stay private.
    const page = await fetch(`${rt.url}/`);
    expect(page.headers.get("content-type")).toContain("text/html");
    const get = await fetch(`${rt.url}/upload`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  test("/docs is Swagger UI loading its assets from this server (no CDN) and this document", async () => {
    const html = await (await fetch(`${rt.url}/docs`)).text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.sort()).toEqual(["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"]);
    expect(html).toContain('"url":"openapi.json"');
    for (const asset of assets) {
      const res = await fetch(`${rt.url}${asset}`);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
    }
  });
});
